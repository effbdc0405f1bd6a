// chat-system: the FastCGI executable of /health, / and /metrics.
#include "core/fcgi.hpp"
#include "handlers/routes.hpp"

int main() { return chat::fcgi::serve("chat-system", chat::handlers::system_routes()); }
