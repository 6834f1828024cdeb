#include "wsserver/service.hpp"

#include "wsserver/strip.hpp"

namespace ws {
namespace {

class StripService : public Service {
 public:
  void feed(std::string_view part, Replies& out) override { strip_append(part, out.reply_bytes()); }
  void end(Replies& out) override { out.end(); }
};

// Echo answers the message as sent, less one trailing \r (telnet sends CRLF).
// A \r that ends a part is held until the next byte shows whether it ends the
// message.
class EchoService : public Service {
 public:
  void feed(std::string_view part, Replies& out) override {
    if (part.empty()) return;
    if (pending_cr_) out.append("\r");
    pending_cr_ = part.back() == '\r';
    out.append(part.substr(0, part.size() - (pending_cr_ ? 1 : 0)));
  }
  void end(Replies& out) override {
    pending_cr_ = false;
    out.end();
  }

 private:
  bool pending_cr_ = false;
};

}  // namespace

std::unique_ptr<Service> make_service(ServiceKind kind, const ServiceContext& context) {
  switch (kind) {
    case ServiceKind::echo: return std::make_unique<EchoService>();
    case ServiceKind::chat: return make_chat_service(context);
    case ServiceKind::strip: break;
  }
  return std::make_unique<StripService>();
}

}  // namespace ws
