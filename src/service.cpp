#include "wsserver/service.hpp"

#include "wsserver/strip.hpp"

namespace ws {
namespace {

class StripService : public Service {
 public:
  explicit StripService(Terminator t) : terminator_(terminator_bytes(t)) {}
  void feed(std::string_view part, std::string& out) override { strip_append(part, out); }
  void end(std::string& out) override { out.append(terminator_); }

 private:
  std::string_view terminator_;
};

// Echo answers the message as sent, less one trailing \r (telnet sends CRLF).
// A \r that ends a part is held until the next byte shows whether it ends the
// message.
class EchoService : public Service {
 public:
  explicit EchoService(Terminator t) : terminator_(terminator_bytes(t)) {}
  void feed(std::string_view part, std::string& out) override {
    if (part.empty()) return;
    if (pending_cr_) out.push_back('\r');
    pending_cr_ = part.back() == '\r';
    out.append(part.substr(0, part.size() - (pending_cr_ ? 1 : 0)));
  }
  void end(std::string& out) override {
    pending_cr_ = false;
    out.append(terminator_);
  }

 private:
  std::string_view terminator_;
  bool pending_cr_ = false;
};

}  // namespace

std::unique_ptr<Service> make_service(ServiceKind kind, const ServiceContext& context) {
  switch (kind) {
    case ServiceKind::echo: return std::make_unique<EchoService>(context.terminator);
    case ServiceKind::chat: return make_chat_service(context);
    case ServiceKind::strip: break;
  }
  return std::make_unique<StripService>(context.terminator);
}

}  // namespace ws
