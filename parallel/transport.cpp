#include "parallel/transport.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "io/errors.hpp"

namespace xbar::parallel {

namespace {

class SingleProcess final : public Transport {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  bool poll(Message&) override { return false; }
  void send(int destination, int, const std::string&) override {
    throw std::logic_error(fmt::format("single process: no rank {}", destination));
  }
  void broadcast(std::string&) override {}
};

int integer_variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::atoi(value) : -1;
}

// The plugin sits next to the executable (the build puts both in one folder).
std::string plugin_path() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return (error ? std::filesystem::path("libxbar_mpi.so") : exe.parent_path() / "libxbar_mpi.so").string();
}

using OpenFn = Transport* (*)();

}  // namespace

std::optional<Launch> launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (!std::getenv(variable)) continue;
    Launch launch{variable, 0, 0};
    for (const char* size : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
      if (integer_variable(size) > 0) {
        launch.size = integer_variable(size);
        break;
      }
    for (const char* rank : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
      if (integer_variable(rank) >= 0) {
        launch.rank = integer_variable(rank);
        break;
      }
    return launch;
  }
  return std::nullopt;
}

bool built_with_mpi() {
#ifdef XBAR_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Transport> single_process() { return std::make_unique<SingleProcess>(); }

std::unique_ptr<Transport> connect() {
  const std::optional<Launch> launch = launched_by_mpi();
  if (!launch) return single_process();
  if (!built_with_mpi()) {
    if (launch->rank != 0) return nullptr;
    fmt::print(stderr, "xbar: note: started by an MPI launcher ({}{}) but this xbar was built without "
               "MPI (CMake option XBAR_MPI=OFF or MPI not found): rank 0 runs every job alone, the "
               "other ranks exit at once\n",
               launch->variable, launch->size > 0 ? fmt::format(", {} processes", launch->size) : "");
    return single_process();
  }
  const std::string path = plugin_path();
  void* plugin = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!plugin)
    throw io::InputError(fmt::format("started by an MPI launcher ({}) but the MPI plugin could not be "
                                     "loaded: {}", launch->variable, dlerror()));
  // Never dlclose()d: Open MPI keeps threads and handlers alive until the process exits.
  const auto open = reinterpret_cast<OpenFn>(dlsym(plugin, "xbar_mpi_open"));
  if (!open) throw io::InputError(fmt::format("{}: no symbol xbar_mpi_open", path));
  return std::unique_ptr<Transport>(open());
}

}  // namespace xbar::parallel
