// chat-users: the FastCGI executable of /api/v1/users.
#include "core/fcgi.hpp"
#include "handlers/routes.hpp"

int main() { return chat::fcgi::serve("chat-users", chat::handlers::users_routes()); }
