// service.hpp: what a client's messages are answered with. The session frames
// the byte stream and handles commands; a service only sees the bytes of each
// message (in as many parts as they arrived) and writes reply bytes, so a
// message of any length streams through in bounded memory.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "wsserver/config.hpp"

namespace ws {

class Service {
 public:
  virtual ~Service() = default;
  // The next bytes of the current message; never holds a terminator.
  virtual void feed(std::string_view part, std::string& out) = 0;
  // The current message ended (at a terminator, or at the client's close).
  virtual void end(std::string& out) = 0;
};

std::unique_ptr<Service> make_service(ServiceKind kind, Terminator terminator);

// The strip service's byte rule: space, \t, \n, \v, \f and \r are dropped.
bool is_strip_space(unsigned char c);
// Appends `in` without its white space to `out`; returns the bytes appended.
size_t strip_append(std::string_view in, std::string& out);

}  // namespace ws
