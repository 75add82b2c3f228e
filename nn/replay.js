// training.html's script: shows the epoch the slider points at; every number comes from Python.
// tapegradStartTraining(element, data) returns {epochs, epoch, goto(k)}, also window.tapegradTraining.
function tapegradStartTraining(root, D) {
  "use strict";
  var rows = D.rows;
  var slider = root.querySelector("input[type=range]");
  var count = root.querySelector(".tgt-count");
  var text = root.querySelector(".tgt-text");
  var button = root.querySelector("[data-act=play]");
  var markers = root.querySelectorAll(".tgt-marker");
  var boundaries = root.querySelectorAll(".tgt-boundary");
  var api = { epochs: rows.length, epoch: rows.length, goto: goto };
  var timer = null;

  function goto(k) {
    k = Math.max(1, Math.min(rows.length, Math.round(Number(k)) || 1));
    var row = rows[k - 1];
    root.setAttribute("data-epoch", row.epoch);
    root.setAttribute("data-loss", row.loss);
    root.setAttribute("data-acc", row.acc);
    text.textContent = row.text;
    markers.forEach(function (m) {
      var x = Number(m.getAttribute("data-x0")) + row.x;
      m.setAttribute("x1", x);
      m.setAttribute("x2", x);
    });
    // The boundary of the last recorded epoch at or before this one.
    var shown = D.shown.filter(function (e) { return e <= row.epoch; });
    var at = shown.length ? shown[shown.length - 1] : D.shown[0];
    boundaries.forEach(function (g) {
      g.style.display = Number(g.getAttribute("data-shows")) === at ? "" : "none";
    });
    slider.value = k;
    count.textContent = "epoch " + row.epoch + " / " + rows[rows.length - 1].epoch;
    api.epoch = k;
    return k;
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    button.textContent = "\u25B6 play";
  }

  button.addEventListener("click", function () {
    if (timer !== null) { stop(); return; }
    if (api.epoch >= rows.length) goto(1);
    button.textContent = "\u23F8 pause";
    timer = setInterval(function () {
      if (api.epoch >= rows.length) stop(); else goto(api.epoch + 1);
    }, 120);
  });
  slider.addEventListener("input", function () { stop(); goto(slider.value); });
  document.addEventListener("keydown", function (ev) {
    if (ev.target === slider) return;  // the slider moves itself with the arrow keys
    var step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
    if (!step) return;
    ev.preventDefault();
    stop();
    goto(api.epoch + step);
  });

  goto(rows.length);
  window.tapegradTraining = api;
  return api;
}
