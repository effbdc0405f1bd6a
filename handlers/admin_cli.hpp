// chat-admin's operator commands (create-user, set-role, reset-password, ban, suspend, unban, audit-log).
#pragma once

namespace chat::handlers {

extern const char* const kAdminCliUsage;

// Runs `chat-admin COMMAND ...` (argv[1] is the command); returns the exit status.
int admin_command(int argc, char** argv);

}  // namespace chat::handlers
