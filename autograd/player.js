// The backprop player's page script: it shows frames that Python computed; it computes no number.
// tapegradStartPlayer(element, data) wires the controls of one player and returns its API
// {steps, step, goto(k)}, also set as window.tapegradPlayer.
function tapegradStartPlayer(root, D) {
  "use strict";
  var svg = root.querySelector("svg");
  var SVGNS = svg.namespaceURI;  // the page names no URL, not even a namespace
  var frames = D.frames;
  var slider = root.querySelector("input[type=range]");
  var count = root.querySelector(".tgp-count");
  var stepBox = root.querySelector(".tgp-step");
  var info = root.querySelector(".tgp-info");
  var playButton = root.querySelector("[data-act=play]");
  var overlay = document.createElementNS(SVGNS, "g");
  overlay.setAttribute("class", "tgp-overlay");
  svg.querySelector("g.graph").appendChild(overlay);

  var values = {};  // tape index -> {g, data text, grad text}
  root.querySelectorAll("g[data-node]").forEach(function (g) {
    var texts = g.querySelectorAll("text");
    values[g.getAttribute("data-node")] = {
      g: g, data: texts[texts.length - 2], grad: texts[texts.length - 1]
    };
  });
  var ops = {};
  root.querySelectorAll("g[data-op]").forEach(function (g) { ops[g.getAttribute("data-op")] = g; });
  var edges = {};  // "from>to>slot" -> edge group
  root.querySelectorAll("g[data-from]").forEach(function (g) {
    edges[g.getAttribute("data-from") + ">" + g.getAttribute("data-to") + ">" +
          g.getAttribute("data-slot")] = g;
  });

  var api = { steps: D.steps, step: 0, goto: goto };
  var timer = null;
  var selected = null;

  function label(x, y, lines, cls) {
    var t = document.createElementNS(SVGNS, "text");
    t.setAttribute("x", x);
    t.setAttribute("y", y);
    t.setAttribute("class", cls);
    lines.forEach(function (line, i) {
      var span = document.createElementNS(SVGNS, "tspan");
      span.setAttribute("x", x);
      span.setAttribute("dy", i ? "1.15em" : "0");
      span.textContent = line;
      t.appendChild(span);
    });
    overlay.appendChild(t);
  }

  function goto(k) {
    k = Math.max(0, Math.min(D.steps, Math.round(Number(k)) || 0));
    var data = {}, grad = {}, sums = {}, done = {};
    for (var i = 1; i <= k; i++) {
      var f = frames[i];
      Object.assign(data, f.data);
      Object.assign(grad, f.grad);
      Object.assign(sums, f.sums);
      if (f.phase === "backward" && i < k) done[f.current] = true;
    }
    var frame = frames[k];
    Object.keys(values).forEach(function (id) {
      var v = values[id];
      set(v.g, "data-data", data[id]);
      set(v.g, "data-grad", grad[id]);
      v.data.textContent = "data " + (id in data ? data[id] : "?");
      v.grad.textContent = "grad " + (id in grad ? grad[id] : "?");
      v.g.classList.toggle("tgp-known", id in data);
      v.g.classList.toggle("tgp-current", frame.current !== null && String(frame.current) === id);
      v.g.classList.toggle("tgp-done", !!done[id]);
      v.g.classList.toggle("tgp-receives", id in frame.grad && frame.phase === "backward");
    });
    Object.keys(ops).forEach(function (id) {
      ops[id].classList.toggle("tgp-current", frame.current !== null && String(frame.current) === id);
      ops[id].classList.toggle("tgp-done", !!done[id]);
    });
    Object.keys(edges).forEach(function (key) { edges[key].classList.remove("tgp-active"); });
    overlay.textContent = "";
    frame.edges.forEach(function (e) {
      var g = edges[e[0] + ">" + e[1] + ">" + e[2]];
      if (!g) return;
      g.classList.add("tgp-active");
      var path = g.querySelector("path");
      // Near the parent end: edges converging on one op then keep their labels apart.
      var p = path.getPointAtLength(path.getTotalLength() * 0.4);
      label(p.x, p.y - 14, ["local " + e[3], "contrib " + e[4]], "tgp-edge-label");
    });
    Object.keys(sums).forEach(function (id) {
      var v = values[id];
      if (!v || !(id in grad)) return;
      var box = v.g.getBBox();
      var cls = "tgp-sum" + (id in frame.sums ? " tgp-sum-now" : "");
      label(box.x + 2, box.y + box.height + 11, ["grad = " + sums[id]], cls);
    });
    stepBox.textContent = "";
    var title = document.createElement("div");
    title.className = "tgp-title";
    title.textContent = frame.title;
    stepBox.appendChild(title);
    frame.lines.forEach(function (line) {
      var div = document.createElement("div");
      div.textContent = line;
      stepBox.appendChild(div);
    });
    var now = frame.current !== null && (ops[frame.current] || (values[frame.current] || {}).g);
    if (now && k > 0) follow(now);
    slider.value = k;
    count.textContent = "step " + k + " / " + D.steps;
    api.step = k;
    if (selected !== null) describe(selected, data, grad);
    return k;
  }

  function follow(g) {  // scroll the picture (not the page) so the current node is in view
    var pane = root.querySelector(".tgp-graph");
    var b = g.getBoundingClientRect(), p = pane.getBoundingClientRect();
    if (b.left < p.left || b.right > p.right) {
      pane.scrollLeft += (b.left + b.right) / 2 - (p.left + p.right) / 2;
    }
    if (b.top < p.top || b.bottom > p.bottom) {
      pane.scrollTop += (b.top + b.bottom) / 2 - (p.top + p.bottom) / 2;
    }
  }

  function set(el, name, value) {
    if (value === undefined) el.removeAttribute(name); else el.setAttribute(name, value);
  }

  function describe(id, data, grad) {
    var n = D.nodes[id];
    var lines = [n.name + (n.formula ? " = " + n.formula : " (a leaf)"),
                 "data " + (id in data ? data[id] : "not computed yet"),
                 "grad " + (id in grad ? grad[id] : "not computed yet")];
    if (n.explain) lines.push("", "its gradient as a sum over paths:", n.explain);
    info.textContent = lines.join("\n");
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    playButton.textContent = "\u25B6 play";
  }

  function play() {
    if (timer !== null) { stop(); return; }
    if (api.step >= D.steps) goto(0);
    playButton.textContent = "\u23F8 pause";
    timer = setInterval(function () {
      if (api.step >= D.steps) stop(); else goto(api.step + 1);
    }, 600);
  }

  var actions = {
    reset: function () { stop(); goto(0); },
    prev: function () { stop(); goto(api.step - 1); },
    next: function () { stop(); goto(api.step + 1); },
    play: play
  };
  root.querySelectorAll("button[data-act]").forEach(function (b) {
    b.addEventListener("click", function () { actions[b.getAttribute("data-act")](); });
  });
  slider.addEventListener("input", function () { stop(); goto(slider.value); });

  function onKey(ev) {
    if (ev.target === slider) return;  // the slider moves itself with the arrow keys
    var act = { ArrowRight: "next", ArrowLeft: "prev", Home: "reset", " ": "play" }[ev.key];
    if (!act) return;
    ev.preventDefault();
    ev.stopPropagation();  // in a notebook, the keys belong to the player, not to the notebook
    actions[act]();
  }
  // A page of its own listens everywhere; in a notebook, only while the player has focus.
  (D.standalone ? document : root).addEventListener("keydown", onKey);

  Object.keys(values).forEach(function (id) {
    values[id].g.addEventListener("click", function (ev) {
      ev.stopPropagation();
      selected = id;
      goto(api.step);
    });
  });

  // Neuron boxes: a click hides what is inside the box except its output (what leaves it).
  root.querySelectorAll("g[data-cluster]").forEach(function (c) {
    var box = c.getBBox();
    function inside(g) {
      var b = g.getBBox(), x = b.x + b.width / 2, y = b.y + b.height / 2;
      return x > box.x && x < box.x + box.width && y > box.y && y < box.y + box.height;
    }
    var members = [];
    root.querySelectorAll("g.node").forEach(function (g) { if (inside(g)) members.push(g); });
    var memberIds = {};
    members.forEach(function (g) {
      memberIds[g.getAttribute("data-node") || (g.getAttribute("data-op") + "op")] = true;
    });
    var outputs = {};
    root.querySelectorAll("g[data-from]").forEach(function (g) {
      var from = g.getAttribute("data-from"), to = g.getAttribute("data-to") + "op";
      if (memberIds[from] && !memberIds[to]) outputs[from] = true;
    });
    var hide = members.filter(function (g) { return !outputs[g.getAttribute("data-node")]; });
    var inner = [];
    root.querySelectorAll("g[data-from]").forEach(function (g) {
      var from = g.getAttribute("data-from"), to = g.getAttribute("data-to");
      if (memberIds[from] && memberIds[to + "op"] && !outputs[from]) inner.push(g);
    });
    root.querySelectorAll("g.edge").forEach(function (g) {  // op -> its own result
      if (!g.hasAttribute("data-from") && inside(g)) inner.push(g);
    });
    root.querySelectorAll("g[data-cluster]").forEach(function (other) {
      if (other !== c && inside(other)) inner.push(other);
    });
    c.classList.add("tgp-box");
    c.addEventListener("click", function () {
      var collapsed = c.classList.toggle("tgp-collapsed");
      hide.concat(inner).forEach(function (g) { g.classList.toggle("tgp-hidden", collapsed); });
    });
  });

  // Fit the picture to the width, but never smaller than 60% (then it scrolls, following the step).
  var natural = svg.viewBox.baseVal.width * 4 / 3;  // Graphviz sizes are points
  function fit() {
    var room = root.querySelector(".tgp-graph").clientWidth - 2;
    if (natural > 0 && room > 0) {
      svg.style.width = Math.round(natural * Math.min(1, Math.max(0.6, room / natural))) + "px";
    }
  }
  fit();
  window.addEventListener("resize", fit);

  root.querySelectorAll("[hidden]").forEach(function (el) { el.hidden = false; });
  goto(0);
  window.tapegradPlayer = api;
  return api;
}
