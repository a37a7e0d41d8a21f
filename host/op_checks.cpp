// Shape checks shared by every backend (see op_checks.hpp).
#include "host/op_checks.hpp"

namespace cuvae::checks {
namespace {

void expect(bool ok, const char* op, const std::string& what) {
  if (!ok) throw Error(std::string(op) + ": " + what);
}

void rank2(const char* op, const char* name, const Tensor& t) {
  expect(t.shape.rank == 2 && t.data != nullptr, op,
         std::string(name) + " must be a non-empty rank-2 tensor, got " + t.str());
}

}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) {
  const char* op = "linear_forward";
  rank2(op, "x", x), rank2(op, "w", w), rank2(op, "y", y);
  expect(x.shape[1] == w.shape[1] && b.numel() == w.shape[0] && y.shape[0] == x.shape[0] &&
             y.shape[1] == w.shape[0],
         op, "shapes disagree: x " + x.str() + ", w " + w.str() + ", b " + b.str() + ", y " + y.str());
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor* dx, const Tensor& dw,
                     const Tensor& db) {
  const char* op = "linear_backward";
  rank2(op, "x", x), rank2(op, "w", w), rank2(op, "dy", dy);
  bool ok = x.shape[1] == w.shape[1] && dy.shape[0] == x.shape[0] && dy.shape[1] == w.shape[0] &&
            dw.shape == w.shape && db.numel() == w.shape[0] && (!dx || dx->shape == x.shape);
  expect(ok, op, "shapes disagree: x " + x.str() + ", w " + w.str() + ", dy " + dy.str() + ", dx " +
                     (dx ? dx->str() : "none") + ", dw " + dw.str() + ", db " + db.str());
}

void reparameterize(const Tensor& stats, const Tensor& eps, const Tensor& z) {
  const char* op = "reparameterize";
  rank2(op, "stats", stats), rank2(op, "eps", eps), rank2(op, "z", z);
  expect(stats.shape[1] == 2 * z.shape[1] && stats.shape[0] == z.shape[0] && eps.shape == z.shape, op,
         "shapes disagree: stats " + stats.str() + " (must be [B, 2L]), eps " + eps.str() + ", z " + z.str());
}

void vae_loss(const Tensor& logits, const Tensor& x, const Tensor& stats, const Tensor* dlogits,
              const Tensor* dstats, const Tensor& terms) {
  const char* op = "vae_loss";
  rank2(op, "logits", logits), rank2(op, "x", x), rank2(op, "stats", stats);
  bool ok = logits.shape == x.shape && stats.shape[0] == x.shape[0] && stats.shape[1] % 2 == 0 &&
            terms.numel() == 2 && (!dlogits || dlogits->shape == logits.shape) &&
            (!dstats || dstats->shape == stats.shape);
  expect(ok, op, "shapes disagree: logits " + logits.str() + ", x " + x.str() + ", stats " + stats.str() +
                     ", terms " + terms.str());
}

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  expect(a.shape == b.shape, op, "shapes disagree: " + a.str() + " vs " + b.str());
}

void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst) {
  const char* op = "gather_rows";
  expect(dst.rows() == static_cast<std::int64_t>(rows.size()) && dst.cols() == src.cols(), op,
         std::to_string(rows.size()) + " rows of " + src.str() + " into " + dst.str());
  for (std::int64_t r : rows) expect(r >= 0 && r < src.rows(), op, "row " + std::to_string(r) + " outside " + src.str());
}

}  // namespace cuvae::checks
