/* flowtrail lineage viewer: draws a laid-out lineage graph (positions computed by the server, or
 * embedded in a stand-alone HTML file) as SVG. Pan by dragging, zoom with the wheel, click a node
 * for its details; with a server, expand a node in place, open a group, change direction and depth,
 * and show more of a capped graph. No dependencies, nothing loaded from the network. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = {failed: "#d62728", aborted: "#d62728", started: "#e67e00", cached: "#1f77b4",
                completed: "#2a9d3f", mixed: "#666666"};
  var FILL = {artifact: "#eef5ff", collection: "#fff4e0", run: "#ffffff", group: "#f4f4f4"};
  var STROKE = {artifact: "#4a78b5", collection: "#c88a1e", group: "#777777"};

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function failed(node) { return node.status === "failed" || node.status === "aborted"; }
  function color(node) {
    if (node.kind === "run" || (node.kind === "group" && node.status)) return COLORS[node.status] || "#2a9d3f";
    return STROKE[node.kind] || "#555555";
  }
  function edgePath(points) {
    var x0 = points[0][0], y0 = points[0][1], d = "M" + x0 + "," + y0;
    for (var i = 1; i < points.length; i++) {
      var x1 = points[i][0], y1 = points[i][1], m = (x0 + x1) / 2;
      d += " C" + m + "," + y0 + " " + m + "," + y1 + " " + x1 + "," + y1;
      x0 = x1; y0 = y1;
    }
    return d;
  }
  function pageOf(node) {
    if (!node.uid) return null;
    return {artifact: "/artifacts/", run: "/runs/", collection: "/lineage/collection/"}[node.kind] + node.uid;
  }

  function Viewer(root, options) {
    this.root = root;
    this.options = options;
    this.svg = root.querySelector("[data-role=graph]");
    this.panel = root.querySelector("[data-role=panel]");
    this.summary = root.querySelector("[data-role=summary]");
    this.standalone = !options.source;
    this.state = {node: options.node, direction: options.direction || "both", depth: options.depth,
                  expand: [], open: (options.open || []).slice(), limit: options.limit || 300};
    this.elements = {};
    this.picture = null;
    if (this.standalone) root.setAttribute("data-standalone", "");
    el("defs", {}, this.svg).innerHTML = '<marker id="ft-arrow" viewBox="0 0 10 10" refX="9" refY="5" ' +
      'markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a8a8a"/></marker>';
    this.edgeLayer = el("g", {"class": "edges"}, this.svg);
    this.nodeLayer = el("g", {"class": "nodes"}, this.svg);
    this.bindControls();
    this.bindPanZoom();
  }

  Viewer.prototype.url = function () {
    var s = this.state, params = new URLSearchParams({node: s.node, direction: s.direction, limit: s.limit});
    if (s.depth !== null && s.depth !== undefined && s.depth !== "") params.set("depth", s.depth);
    s.expand.forEach(function (id) { params.append("expand", id); });
    s.open.forEach(function (id) { params.append("open", id); });
    return this.options.source + "?" + params.toString();
  };

  Viewer.prototype.load = function (anchor) {
    var self = this;
    if (this.standalone) { this.draw(this.options.picture, null); return; }
    this.root.setAttribute("data-state", "loading");
    fetch(this.url(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) return response.json().then(function (b) { throw new Error(b.message || response.statusText); });
        return response.json();
      })
      .then(function (picture) { self.draw(picture, anchor); })
      .catch(function (error) {
        self.summary.textContent = "Could not load the lineage: " + error.message;
        self.root.setAttribute("data-state", "error");
      });
  };

  Viewer.prototype.draw = function (picture, anchor) {
    var self = this, first = this.picture === null, from = anchor && this.picture && this.position(anchor);
    this.picture = picture;
    this.byId = {};
    picture.nodes.forEach(function (n) { self.byId[n.id] = n; });
    while (this.edgeLayer.firstChild) this.edgeLayer.removeChild(this.edgeLayer.firstChild);
    picture.edges.forEach(function (e) {
      var path = el("path", {d: edgePath(e.points), "class": "edge", "marker-end": "url(#ft-arrow)"}, self.edgeLayer);
      path.setAttribute("data-source", e.source);
      path.setAttribute("data-target", e.target);
    });
    var seen = {}, added = false, fragment = document.createDocumentFragment();
    picture.nodes.forEach(function (n) {
      seen[n.id] = true;
      var g = self.elements[n.id];
      if (!g) {
        g = self.elements[n.id] = self.nodeElement(n);
        if (!first) {  // new nodes grow out of the node that was expanded, and fade in
          var start = from || [n.x, n.y];
          g.style.transform = "translate(" + start[0] + "px," + start[1] + "px)";
          g.style.opacity = "0";
          added = true;
        }
        fragment.appendChild(g);
      } else {
        self.fillNode(g, n);
      }
    });
    this.nodeLayer.appendChild(fragment);
    if (added) this.svg.getBoundingClientRect();  // one reflow commits every start position, so the moves animate
    picture.nodes.forEach(function (n) {
      var g = self.elements[n.id];
      g.style.transform = "translate(" + n.x + "px," + n.y + "px)";
      g.style.opacity = "1";
    });
    Object.keys(this.elements).forEach(function (id) {
      if (!seen[id]) { self.nodeLayer.removeChild(self.elements[id]); delete self.elements[id]; }
    });
    var text = picture.nodes.length + " nodes";
    if (picture.hidden) text += ", " + picture.hidden + " more not shown";
    this.summary.textContent = text;
    var more = this.root.querySelector("[data-action=more]");
    if (more) { more.hidden = !picture.hidden || this.standalone; more.textContent = "show more (" + picture.hidden + " hidden)"; }
    this.root.querySelectorAll("[data-direction]").forEach(function (b) {
      b.classList.toggle("active", b.getAttribute("data-direction") === self.state.direction);
    });
    var depth = this.root.querySelector("select[name=depth]");
    if (depth) depth.value = this.state.depth === null || this.state.depth === undefined ? "" : String(this.state.depth);
    var to = anchor && this.position(anchor);
    if (first || !this.view) {
      this.fit();
    } else if (from && to) {  // expanded in place: the node stays where it was on screen
      this.setView(this.view[0] + to[0] - from[0], this.view[1] + to[1] - from[1], this.view[2], this.view[3]);
    } else {  // a new direction, depth or an opened group: show the whole graph
      this.fit();
    }
    this.root.setAttribute("data-nodes", String(picture.nodes.length));
    if (first) {  // after the next paint: what "time to first render" measures (benchmarks/web_lineage.py)
      var root = this.root;
      requestAnimationFrame(function () {
        setTimeout(function () { root.setAttribute("data-first-render-ms", String(Math.round(performance.now()))); }, 0);
      });
    }
    this.root.setAttribute("data-state", "ready");
    if (this.selected && this.byId[this.selected]) {
      this.select(this.selected);
    } else if (this.selected) {  // the selected node is gone (an opened group)
      this.panel.hidden = true;
      this.selected = null;
    }
  };

  Viewer.prototype.position = function (id) {
    var n = this.byId && this.byId[id];
    return n ? [n.x, n.y] : null;
  };

  Viewer.prototype.nodeElement = function (n) {
    var self = this, g = el("g", {"class": "node"});
    g.addEventListener("click", function (event) {
      event.stopPropagation();
      if (event.target.closest && event.target.closest(".expand")) { self.expand(g.getAttribute("data-id")); return; }
      self.select(g.getAttribute("data-id"));
    });
    this.fillNode(g, n);
    return g;
  };

  Viewer.prototype.fillNode = function (g, n) {
    while (g.firstChild) g.removeChild(g.firstChild);
    var w = n.w, h = n.h, x = -w / 2, y = -h / 2, stroke = color(n);
    g.setAttribute("data-id", n.id);
    g.setAttribute("data-kind", n.kind);
    g.setAttribute("class", "node " + n.kind + (failed(n) ? " failed" : "") + (n.start ? " start" : ""));
    el("title", {}, g).textContent = n.title + (n.subtitle ? "\n" + n.subtitle : "");
    if (n.kind === "group") el("rect", {x: x + 5, y: y - 5, width: w, height: h, rx: 6, fill: "#fafafa", stroke: stroke}, g);
    el("rect", {x: x, y: y, width: w, height: h, rx: n.kind === "run" ? h / 2 : 6, fill: FILL[n.kind] || "#fff",
                stroke: stroke, "stroke-width": n.start ? 3 : (failed(n) ? 2 : 1.2), "class": "box"}, g);
    el("text", {x: 0, y: -3, "text-anchor": "middle", "class": "label"}, g).textContent = n.label;
    el("text", {x: 0, y: 12, "text-anchor": "middle", "class": "sublabel"}, g).textContent = n.sublabel;
    if (!this.standalone && n.kind !== "group") {  // the expand handle
      var handle = el("g", {"class": "expand", transform: "translate(" + (w / 2) + "," + (-h / 2) + ")"}, g);
      el("title", {}, handle).textContent = "expand: show what is next to this node";
      el("circle", {r: 7}, handle);
      el("text", {y: 4, "text-anchor": "middle"}, handle).textContent = "+";
    }
    if (n.more) {
      el("text", {x: x + w - 4, y: y + h + 11, "text-anchor": "end", "class": "hint"}, g).textContent = "+" + n.more + " hidden";
    }
  };

  Viewer.prototype.select = function (id) {
    var self = this, n = this.byId[id];
    if (!n) return;
    this.selected = id;
    Object.keys(this.elements).forEach(function (k) { self.elements[k].classList.toggle("selected", k === id); });
    var panel = this.panel;
    panel.innerHTML = "";
    panel.hidden = false;
    var close = html("button", "×", {type: "button", "class": "close", "aria-label": "close"});
    close.addEventListener("click", function () {
      panel.hidden = true;
      self.selected = null;
      Object.keys(self.elements).forEach(function (k) { self.elements[k].classList.remove("selected"); });
    });
    panel.appendChild(close);
    panel.appendChild(html("div", n.kind, {"class": "kind"}));
    panel.appendChild(html("h3", n.title));
    var sub = html("p", n.subtitle, {"class": failed(n) ? "failed" : "dim"});
    panel.appendChild(sub);
    if (n.uid) panel.appendChild(html("p", n.uid, {"class": "mono dim"}));
    var names = Object.keys(n.details || {});
    if (names.length) {
      var table = html("table", null, {"class": "details", "data-role": "details"});
      names.forEach(function (name) {
        var row = html("tr");
        row.appendChild(html("th", name));
        row.appendChild(html("td", n.details[name], {"class": name === "error" ? "failed mono" : "mono"}));
        table.appendChild(row);
      });
      panel.appendChild(table);
    }
    var actions = html("div", null, {"class": "panel-actions"});
    panel.appendChild(actions);
    var page = pageOf(n);
    if (page && !this.standalone) {
      actions.appendChild(html("a", n.kind === "collection" ? "lineage of this collection" : "open " + n.kind + " page",
                               {href: page, "class": "button", "data-role": "open-page"}));
      if (n.kind !== "collection") {
        actions.appendChild(html("a", "lineage from here", {href: "/lineage/" + n.kind + "/" + n.uid, "class": "button"}));
      }
      var grow = html("button", "expand in place", {type: "button", "data-role": "expand"});
      grow.addEventListener("click", function () { self.expand(id); });
      actions.appendChild(grow);
    }
    if (n.kind === "group") {
      if (!this.standalone) {
        var open = html("button", "show the " + n.members.length + " members", {type: "button", "data-role": "open-group"});
        open.addEventListener("click", function () { self.openGroup(id); });
        actions.appendChild(open);
      }
      var list = html("ul", null, {"class": "members"});
      (n.member_titles || []).slice(0, 100).forEach(function (t) { list.appendChild(html("li", t)); });
      panel.appendChild(list);
    }
  };

  Viewer.prototype.expand = function (id) {
    if (this.standalone) return;
    if (this.state.expand.indexOf(id) < 0) this.state.expand.push(id);
    this.load(id);
  };

  Viewer.prototype.openGroup = function (id) {
    if (this.state.open.indexOf(id) < 0) this.state.open.push(id);
    this.state.limit = Math.max(this.state.limit, this.picture.nodes.length + this.byId[id].members.length);
    this.load(id);
  };

  Viewer.prototype.bindControls = function () {
    var self = this;
    this.root.querySelectorAll("[data-direction]").forEach(function (button) {
      button.addEventListener("click", function () {
        self.state.direction = button.getAttribute("data-direction");
        self.load(null);
      });
    });
    var depth = this.root.querySelector("select[name=depth]");
    if (depth) depth.addEventListener("change", function () { self.state.depth = depth.value; self.load(null); });
    this.root.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-action");
        if (action === "fit") self.fit();
        if (action === "more") { self.state.limit = self.state.limit * 2 + 200; self.load(null); }
        if (action === "reset") {
          self.state.expand = []; self.state.open = (self.options.open || []).slice(); self.state.limit = self.options.limit || 300;
          self.state.direction = self.options.direction || "both"; self.state.depth = self.options.depth;
          self.load(null);
        }
      });
    });
  };

  Viewer.prototype.fit = function () {
    if (!this.picture) return;
    var p = this.picture, box = this.svg.getBoundingClientRect();
    var w = Math.max(p.width, 200), h = Math.max(p.height, 100);
    // Never zoom in past 1:1, and keep small graphs at a readable size.
    var scale = Math.min(1, box.width ? box.width / w : 1, box.height ? box.height / h : 1);
    var vw = (box.width || w) / scale, vh = (box.height || h) / scale;
    this.setView(p.width / 2 - vw / 2, p.height / 2 - vh / 2, vw, vh);
  };

  Viewer.prototype.setView = function (x, y, w, h) {
    this.view = [x, y, w, h];
    this.svg.setAttribute("viewBox", x + " " + y + " " + w + " " + h);
  };

  Viewer.prototype.bindPanZoom = function () {
    var self = this, drag = null;
    this.svg.addEventListener("wheel", function (event) {
      if (!self.view) return;
      event.preventDefault();
      var box = self.svg.getBoundingClientRect(), v = self.view;
      var factor = Math.exp(event.deltaY * 0.0015);
      var px = v[0] + (event.clientX - box.left) / box.width * v[2], py = v[1] + (event.clientY - box.top) / box.height * v[3];
      self.setView(px - (px - v[0]) * factor, py - (py - v[1]) * factor, v[2] * factor, v[3] * factor);
    }, {passive: false});
    this.svg.addEventListener("pointerdown", function (event) {
      if (event.target.closest && event.target.closest("g.node")) return;
      drag = {x: event.clientX, y: event.clientY, view: self.view.slice()};
      self.svg.classList.add("dragging");
    });
    window.addEventListener("pointermove", function (event) {
      if (!drag) return;
      var box = self.svg.getBoundingClientRect(), v = drag.view;
      var dx = (event.clientX - drag.x) / box.width * v[2], dy = (event.clientY - drag.y) / box.height * v[3];
      self.setView(v[0] - dx, v[1] - dy, v[2], v[3]);
    });
    window.addEventListener("pointerup", function () { drag = null; self.svg.classList.remove("dragging"); });
  };

  window.FlowtrailLineage = {
    start: function (root, options) { var viewer = new Viewer(root, options); viewer.load(null); root.viewer = viewer; return viewer; }
  };
})();
