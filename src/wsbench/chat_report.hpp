// chat_report.hpp: what a chat run found, as text or one JSON object.
#pragma once

#include "chat_run.hpp"
#include "options.hpp"
#include "target.hpp"

namespace wsbench {

void print_chat_report(const Options& options, const Target& target, const ChatResult& result);
void print_chat_json(const Options& options, const Target& target, const ChatResult& result);

}  // namespace wsbench
