// chat-conversations: the FastCGI executable of /api/v1/conversations.
#include "core/fcgi.hpp"
#include "handlers/routes.hpp"

int main() { return chat::fcgi::serve("chat-conversations", chat::handlers::conversations_routes()); }
