// The customer's estimate page: "your total" follows the optional items
// ticked, priced with the server's rule (each tax on the subtotal, rounded
// half away from zero, in whole minor units). The server prices the choice
// again when the estimate is approved; this only shows it as you tick.
(function () {
  var form = document.querySelector("form.approve");
  if (!form || typeof BigInt !== "function") return;
  var out = form.querySelector(".your-total");
  // Each rate is a percent as the server writes it ("8.875", "6"), read
  // exactly into thousandths of a percent (8875): no floating point.
  function pcm(percent) {
    var parts = percent.split(".");
    return BigInt(parts[0]) * 1000n + BigInt((parts[1] || "").padEnd(3, "0"));
  }
  var rates = (form.dataset.rates || "").split(",").filter(function (r) { return r !== ""; }).map(pcm);
  var digits = parseInt(form.dataset.digits || "2", 10);
  var symbol = form.dataset.symbol || "";
  function roundDiv(n, d) {
    var q = n / d, r = n % d;
    if (r < 0n) r = -r;
    if (2n * r >= d) q += n < 0n ? -1n : 1n;
    return q;
  }
  function format(minor) {
    var neg = minor < 0n, a = neg ? -minor : minor;
    var scale = 10n ** BigInt(digits);
    var major = (a / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = digits > 0 ? "." + (a % scale).toString().padStart(digits, "0") : "";
    return (neg ? "-" : "") + symbol + major + frac;
  }
  function update() {
    var subtotal = BigInt(form.dataset.subtotal || "0");
    form.querySelectorAll('input[name="options"]:checked').forEach(function (box) {
      subtotal += BigInt(box.dataset.total || "0");
    });
    var total = subtotal;
    rates.forEach(function (rate) { total += roundDiv(subtotal * rate, 100000n); });
    if (out) out.textContent = format(total);
  }
  form.addEventListener("change", update);
  update();
})();
