// The route table of every handler group.
#pragma once

#include <vector>

#include "core/context.hpp"
#include "core/router.hpp"

namespace chat::handlers {

std::vector<http::Route> auth_routes();
std::vector<http::Route> users_routes();
std::vector<http::Route> system_routes();
std::vector<http::Route> channels_routes();
std::vector<http::Route> messages_routes();
std::vector<http::Route> conversations_routes();
std::vector<http::Route> admin_routes();

}  // namespace chat::handlers
