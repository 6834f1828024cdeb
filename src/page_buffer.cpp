#include "wsserver/page_buffer.hpp"

#include <sys/mman.h>

namespace ws {

PageBuffer::PageBuffer(size_t size) : size_(size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p != MAP_FAILED) data_ = static_cast<char*>(p);
}

PageBuffer::~PageBuffer() {
  if (data_) munmap(data_, size_);
}

void PageBuffer::release_pages() {
  // Cannot fail for a whole private anonymous mapping; if it did, the pages
  // would merely stay resident.
  if (data_) madvise(data_, size_, MADV_DONTNEED);
}

}  // namespace ws
