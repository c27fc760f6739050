#include "parallel/job_error.hpp"

#include <new>
#include <stdexcept>

#include "devices/cell.hpp"
#include "engine/array_solver.hpp"
#include "io/errors.hpp"

namespace xbar::parallel {

namespace {

enum class Kind : std::uint8_t { input, solve, model, memory, internal };

std::pair<Kind, std::string> classify(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const io::InputError& e) {
    return {Kind::input, e.what()};
  } catch (const engine::SolveFailure& e) {
    return {Kind::solve, e.what()};
  } catch (const devices::ModelError& e) {
    return {Kind::model, e.what()};
  } catch (const std::bad_alloc&) {
    return {Kind::memory, ""};
  } catch (const std::exception& e) {
    return {Kind::internal, e.what()};
  } catch (...) {
    return {Kind::internal, "unknown exception"};
  }
}

[[noreturn]] void throw_as(Kind kind, const std::string& message) {
  switch (kind) {
    case Kind::input: throw io::InputError(message);
    case Kind::solve: throw engine::SolveFailure(message);
    case Kind::model: throw devices::ModelError(message);
    case Kind::memory: throw std::bad_alloc();
    case Kind::internal: break;
  }
  throw std::runtime_error(message);
}

}  // namespace

int exit_status(const std::exception_ptr& error) {
  switch (classify(error).first) {
    case Kind::input:
    case Kind::memory: return 2;
    case Kind::solve:
    case Kind::model: return 3;
    case Kind::internal: break;
  }
  return 4;
}

Bytes encode_error(const std::exception_ptr& error) {
  const auto [kind, message] = classify(error);
  ByteWriter out;
  out.put(kind);
  out.put_string(message);
  return out.take();
}

void rethrow_error(const Bytes& encoded, const std::string& where) {
  ByteReader in(encoded);
  const auto kind = in.get<Kind>();
  throw_as(kind, where + in.get_string());
}

void rethrow_error(const std::exception_ptr& error, const std::string& where) {
  const auto [kind, message] = classify(error);
  if (kind == Kind::memory || where.empty()) std::rethrow_exception(error);
  throw_as(kind, where + message);
}

}  // namespace xbar::parallel
