// The FastCGI accept loop every handler executable runs: listening socket on fd 0, a pool of threads
// each with its own database and Redis connection, one place that turns exceptions into HTTP.
#pragma once

#include <vector>

#include "core/context.hpp"
#include "core/router.hpp"

namespace chat::fcgi {

// Reads the config once, then serves `routes` until SIGTERM/SIGINT: stops accepting, lets requests
// in flight finish and returns 0. Returns 2 on a configuration error, 1 when fd 0 is not a socket.
int serve(const char* program, std::vector<http::Route> routes);

// Runs the matched handler and maps every failure to API.md's JSON (exposed for tests).
http::Response dispatch(Context& ctx, const http::Router& router, http::Request& req);

}  // namespace chat::fcgi
