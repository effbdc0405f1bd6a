// chat-channels: the FastCGI executable of /api/v1/channels.
#include "core/fcgi.hpp"
#include "handlers/routes.hpp"

int main() { return chat::fcgi::serve("chat-channels", chat::handlers::channels_routes()); }
