// chat-admin: with arguments, the operator's command (chat-admin --help); without, on its FastCGI socket (fd 0),
// the handler group of /api/v1/admin.
#include "core/fcgi.hpp"
#include "handlers/admin_cli.hpp"
#include "handlers/routes.hpp"

int main(int argc, char** argv) {
  if (argc > 1) return chat::handlers::admin_command(argc, argv);
  return chat::fcgi::serve("chat-admin", chat::handlers::admin_routes());
}
