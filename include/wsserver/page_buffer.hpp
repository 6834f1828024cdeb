// page_buffer.hpp: a worker's read buffer. Mapped, not allocated, so its
// pages cost nothing until a client fills them, and they can be handed back
// after a large transfer: an idle worker stays small.
#pragma once

#include <cstddef>

namespace ws {

class PageBuffer {
 public:
  explicit PageBuffer(size_t size);
  ~PageBuffer();
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }
  bool ok() const { return data_ != nullptr; }
  // Returns the pages to the kernel; the contents read as zero afterwards.
  void release_pages();

 private:
  char* data_ = nullptr;
  size_t size_;
};

}  // namespace ws
