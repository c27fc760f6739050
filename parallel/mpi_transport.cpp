// libxbar_mpi.so: the Transport over MPI (see transport.hpp). Only the main thread of each rank
// calls MPI (MPI_THREAD_FUNNELED); worker threads never do.
#include <mpi.h>

#include <climits>
#include <stdexcept>

#include "parallel/transport.hpp"

namespace xbar::parallel {

namespace {

class MpiTransport final : public Transport {
 public:
  MpiTransport() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiTransport() override { MPI_Finalize(); }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  bool poll(Message& message) override {
    int arrived = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
    if (!arrived) return false;
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    message.source = status.MPI_SOURCE;
    message.tag = status.MPI_TAG;
    message.bytes.resize(static_cast<std::size_t>(count));
    MPI_Recv(message.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    return true;
  }

  void send(int destination, int tag, const std::string& bytes) override {
    MPI_Send(bytes.data(), checked_count(bytes.size()), MPI_BYTE, destination, tag, MPI_COMM_WORLD);
  }

  void broadcast(std::string& bytes) override {
    unsigned long long n = bytes.size();
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    bytes.resize(n);
    MPI_Bcast(bytes.data(), checked_count(n), MPI_BYTE, 0, MPI_COMM_WORLD);
  }

 private:
  static int checked_count(std::size_t n) {
    if (n > static_cast<std::size_t>(INT_MAX)) throw std::length_error("MPI message over 2 GiB");
    return static_cast<int>(n);
  }
  int rank_ = 0, size_ = 1;
};

}  // namespace

}  // namespace xbar::parallel

extern "C" __attribute__((visibility("default"))) xbar::parallel::Transport* xbar_mpi_open() {
  return new xbar::parallel::MpiTransport();
}
