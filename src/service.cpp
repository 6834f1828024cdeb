#include "wsserver/service.hpp"

#include <array>

namespace ws {
namespace {

constexpr std::array<unsigned char, 256> make_keep_table() {
  std::array<unsigned char, 256> keep{};
  for (auto& k : keep) k = 1;
  for (unsigned char c : {' ', '\t', '\n', '\v', '\f', '\r'}) keep[c] = 0;
  return keep;
}
constexpr auto keep_table = make_keep_table();

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

bool is_strip_space(unsigned char c) { return keep_table[c] == 0; }

size_t strip_append(std::string_view in, std::string& out) {
  size_t start = out.size();
  out.resize(start + in.size());
  char* dest = out.data() + start;
  // Branch-free: every byte is stored, and the cursor only moves past kept ones.
  for (unsigned char c : in) {
    *dest = static_cast<char>(c);
    dest += keep_table[c];
  }
  size_t kept = static_cast<size_t>(dest - (out.data() + start));
  out.resize(start + kept);
  return kept;
}

std::unique_ptr<Service> make_service(ServiceKind kind, const ServiceContext& context) {
  switch (kind) {
    case ServiceKind::echo: return std::make_unique<EchoService>(context.terminator);
    case ServiceKind::chat: return make_chat_service(context);
    case ServiceKind::strip: break;
  }
  return std::make_unique<StripService>(context.terminator);
}

}  // namespace ws
