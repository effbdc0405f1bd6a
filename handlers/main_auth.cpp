// chat-auth: the FastCGI executable of /api/v1/auth.
#include "core/fcgi.hpp"
#include "handlers/routes.hpp"

int main() { return chat::fcgi::serve("chat-auth", chat::handlers::auth_routes()); }
