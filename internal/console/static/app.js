// Refreshes the parts of a page marked data-refresh (a plot, a lag table)
// in place, every data-every milliseconds, while the page is visible. The
// page reads the same without it.
(function () {
  document.querySelectorAll("[data-refresh]").forEach(function (el) {
    var every = parseInt(el.getAttribute("data-every") || "5000", 10);
    setInterval(function () {
      if (document.hidden) return;
      fetch(el.getAttribute("data-refresh"), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { el.innerHTML = html; })
        .catch(function () {});
    }, every);
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!confirm(f.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
})();
