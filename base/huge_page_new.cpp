// The allocation policy of the xbar executables (compiled into cli/ and bench/, not into the
// libraries or the Python module): the replaceable global operator new gives every block of
// k_huge_block bytes or more a 2 MB alignment and asks the kernel for transparent huge pages
// (madvise MADV_HUGEPAGE; the kernel's default "madvise" mode grants them only where asked).
//
// Why: a solve's memory is a few dozen per-cell arrays, each written once from fresh pages. With
// 4 kB pages every page is a fault, and on the virtual machines xbar runs on a fault costs ~10 us:
// a 1r 1024x1024 `xbar solve` took 166k of them, over half of its CPU time; with 2 MB pages it
// takes a few hundred. Blocks below k_huge_block keep 4 kB pages (a huge page would be mostly
// unused). Memory is released by the library's operator delete (free()), which takes blocks from
// aligned_alloc as from malloc; the advice is only advice: where it fails, 4 kB pages remain.
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>

namespace {

constexpr std::size_t k_huge_page = std::size_t{2} << 20;
constexpr std::size_t k_huge_block = std::size_t{4} << 20;
constexpr std::size_t k_heap_pad = std::size_t{256} << 20;
constexpr std::size_t k_mmap_max = std::size_t{32} << 20;  // the largest M_MMAP_THRESHOLD glibc takes

void* allocate(std::size_t bytes) {
  if (bytes < k_huge_block) return std::malloc(bytes ? bytes : 1);
  const std::size_t rounded = (bytes + k_huge_page - 1) & ~(k_huge_page - 1);
  void* block = std::aligned_alloc(k_huge_page, rounded);
  if (block) madvise(block, rounded, MADV_HUGEPAGE);
  return block;
}

// The standard's loop: on failure, the installed new_handler may free memory; without one, throw.
void* allocate_or_throw(std::size_t bytes) {
  for (;;) {
    if (void* block = allocate(bytes)) return block;
    const std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

// malloc's policy, set once before main(): blocks up to k_mmap_max come from the main heap (brk),
// and the heap is never trimmed, so memory a phase frees (the circuit, a solver, temporaries) is
// reused by the next without being zeroed by the kernel again: on the 1r 1024x1024 solve that
// cut the kernel's time from 1.5 s to 0.2 s, for ~12% more peak memory (freed blocks that later,
// larger ones cannot reuse). The heap grows once by k_heap_pad at start-up (M_TOP_PAD: every later
// growth keeps that much in reserve too), and that first stretch is advised as huge pages, for the
// blocks below k_huge_block (a 128x128 array's per-cell arrays, the circuit's element lists, a
// 1152x256 array's 2.4 MB ones). 64 MB left a 1152x256 SONOS batch ~7,000 faults of 4 kB pages
// (4-8% of its solve); 256 MB covers such a solve's heap, at no cost but address space where the
// heap stays smaller. No state is kept.
void set_malloc_policy() {
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(k_mmap_max));
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_TOP_PAD, static_cast<int>(k_heap_pad));
  const auto brk_now = [] { return reinterpret_cast<std::uintptr_t>(sbrk(0)); };
  const std::uintptr_t start = brk_now();
  void* blocks[64] = {};
  for (int b = 0; b < 64 && brk_now() == start; ++b) blocks[b] = std::malloc(64 << 10);  // until the heap grows
  const std::uintptr_t end = brk_now();
  for (void* block : blocks) std::free(block);
  const std::uintptr_t first = (start + k_huge_page - 1) & ~(std::uintptr_t{k_huge_page} - 1);
  if (end > first) madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
}

const struct MallocPolicy {
  MallocPolicy() { set_malloc_policy(); }
} k_malloc_policy;

}  // namespace

void* operator new(std::size_t bytes) { return allocate_or_throw(bytes); }
void* operator new[](std::size_t bytes) { return allocate_or_throw(bytes); }
void* operator new(std::size_t bytes, const std::nothrow_t&) noexcept {
  try {
    return allocate_or_throw(bytes);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t bytes, const std::nothrow_t& tag) noexcept { return operator new(bytes, tag); }
