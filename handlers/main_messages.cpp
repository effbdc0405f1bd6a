// chat-messages: the FastCGI executable of /api/v1/messages.
#include "core/fcgi.hpp"
#include "handlers/routes.hpp"

int main() { return chat::fcgi::serve("chat-messages", chat::handlers::messages_routes()); }
