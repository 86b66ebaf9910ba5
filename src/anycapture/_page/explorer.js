/* anycapture attention explorer.
 *
 * One explorer per element carrying data-anycapture-explorer. Its maps arrive base64 encoded as
 * 8- or 16-bit integers with a float32 offset and step per row (value = low + q * step), one
 * string per layer; they are decoded once into typed arrays. All state lives in one plain object; render functions read it
 * and draw on canvas. window.anycapture is the page's face: info(), state(), select(), value()
 * for the one explorer (the last mounted), get(id) and explorers for each of several.
 */
(function () {
  "use strict";
  var VERSION = "2";
  if (window.anycapture && window.anycapture.version === VERSION) return;

  // Colour tables as hex, the way palettes are quoted (matplotlib's own lists), read into [r, g, b] triples.
  function colours(hex) {
    return hex.split(" ").map(function (c) {
      return [0, 2, 4].map(function (i) {
        return parseInt(c.slice(i, i + 2), 16);
      });
    });
  }
  var VIRIDIS = colours("440154 482374 404387 345e8d 29788e 20908c 22a784 44be70 79d151 bdde26 fde725");
  var LINE = [31, 119, 180]; // token view: lines and key shading in one hue, weight as opacity
  // Every head in its colour (the token view's all_heads, as bertviz's head view): tab10 and two more.
  var HEAD_COLOURS = colours("1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b e377c2 7f7f7f bcbd22 17becf 393b79 ad494a");

  function buildLut(stops) {
    var lut = new Uint8ClampedArray(256 * 3);
    for (var i = 0; i < 256; i++) {
      var x = (i / 255) * (stops.length - 1);
      var a = Math.min(Math.floor(x), stops.length - 2);
      var f = x - a;
      for (var c = 0; c < 3; c++) lut[i * 3 + c] = stops[a][c] + f * (stops[a + 1][c] - stops[a][c]);
    }
    return lut;
  }
  var LUT = buildLut(VIRIDIS);
  // The same colours as one 32-bit RGBA word each (canvas pixels are bytes R, G, B, A in memory).
  var LUT32 = new Uint32Array(256);
  var littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  for (var n = 0; n < 256; n++) {
    var r = LUT[n * 3],
      g = LUT[n * 3 + 1],
      b = LUT[n * 3 + 2];
    LUT32[n] = littleEndian
      ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0
      : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
  }

  function decode(text, kind) {
    var s = atob(text.trim());
    var n = s.length;
    var bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) bytes[i] = s.charCodeAt(i);
    if (kind === "u16") return new Uint16Array(bytes.buffer);
    if (kind === "f32") return new Float32Array(bytes.buffer);
    return bytes;
  }

  function el(tag, attrs, parent) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var key in attrs) {
        if (key === "text") node.textContent = attrs[key];
        else if (key === "className") node.className = attrs[key];
        else node.setAttribute(key, attrs[key]);
      }
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  // A label cut to n characters, with an ellipsis saying it was cut.
  function clip(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  function fmt(v) {
    return Math.abs(v) >= 0.001 || v === 0 ? v.toFixed(4) : v.toExponential(2);
  }

  function Explorer(root) {
    var cfg = JSON.parse(root.querySelector("script[data-config]").textContent);
    var blobs = {};
    root.querySelectorAll("script[data-blob]").forEach(function (node) {
      blobs[node.getAttribute("data-blob")] = node;
    });
    function take(name, kind) {
      var node = blobs[name];
      var data = decode(node.textContent, kind);
      node.textContent = ""; // the decoded copy is all the page keeps
      return data;
    }
    // A position with its token, as every status line and tip names it: query 3 “cat”, key 5 “sat”.
    function queryName(q) {
      return "query " + q + " “" + cfg.query_tokens[q] + "”";
    }
    function keyName(k) {
      return "key " + k + " “" + cfg.key_tokens[k] + "”";
    }
    var L = cfg.layers,
      H = cfg.heads,
      Q = cfg.queries,
      K = cfg.keys;
    // The integers come as one string per layer (name-0, name-1, ...), each decoded straight into
    // its place in one buffer: no string ever holds the whole, so pages pass a browser's string limit.
    function takeLayers(name, kind, perLayer) {
      var size = kind === "u16" ? 2 : 1;
      var bytes = new Uint8Array(L * perLayer * size);
      for (var layer = 0; layer < L; layer++) {
        var node = blobs[name + "-" + layer];
        var text = atob(node.textContent.trim());
        if (text.length !== perLayer * size) {
          throw new Error(
            "anycapture: " + name + "-" + layer + " holds " + text.length + " bytes, not " + perLayer * size,
          );
        }
        node.textContent = "";
        for (var i = 0, at = layer * perLayer * size; i < text.length; i++) bytes[at + i] = text.charCodeAt(i);
      }
      return size === 2 ? new Uint16Array(bytes.buffer) : bytes;
    }
    var data = {
      ints: takeLayers("maps", cfg.encoding, H * Q * K),
      low: take("low", "f32"),
      step: take("step", "f32"),
      rollout: null,
      means: {},
      image: null,
    };
    if (cfg.rollout_encoding) {
      data.rollout = takeLayers("rollout", cfg.rollout_encoding, Q * K);
      data.rlow = take("rollout_low", "f32");
      data.rstep = take("rollout_step", "f32");
    }
    var heads = [];
    for (var h = 0; h < H; h++) heads.push(h);
    heads.push("mean");
    if (data.rollout) heads.push("rollout");
    var views = ["tokens", "matrix", "model"];
    if (cfg.grid) views.push("patches");

    var state = {
      view: cfg.grid ? "patches" : "tokens",
      layer: L - 1,
      head: "mean",
      query: 0,
      // With an image the page opens on one query's spotlight: scaled to that row's patches, the
      // image shows where it looks; a map's maximum (often another row's) would leave it dark.
      scale: cfg.grid ? "row" : "map",
      all_heads: false, // the token view draws every head at once, each in its colour
      hover: null,
    };

    // -- values ----------------------------------------------------------------------------------
    function meanMap(layer) {
      var m = data.means[layer];
      if (m) return m;
      m = new Float64Array(Q * K);
      var ints = data.ints;
      for (var h = 0; h < H; h++) {
        for (var q = 0; q < Q; q++) {
          var row = (layer * H + h) * Q + q;
          var lo = data.low[row],
            st = data.step[row],
            base = row * K,
            out = q * K;
          for (var k = 0; k < K; k++) m[out + k] += lo + ints[base + k] * st;
        }
      }
      for (var i = 0; i < m.length; i++) m[i] /= H;
      data.means[layer] = m;
      return m;
    }
    function row(layer, head, query) {
      var out = new Float64Array(K),
        k,
        r,
        lo,
        st,
        base;
      if (head === "mean") {
        var m = meanMap(layer);
        for (k = 0; k < K; k++) out[k] = m[query * K + k];
        return out;
      }
      if (head === "rollout") {
        r = layer * Q + query;
        lo = data.rlow[r];
        st = data.rstep[r];
        base = r * K;
        for (k = 0; k < K; k++) out[k] = lo + data.rollout[base + k] * st;
        return out;
      }
      r = (layer * H + head) * Q + query;
      lo = data.low[r];
      st = data.step[r];
      base = r * K;
      for (k = 0; k < K; k++) out[k] = lo + data.ints[base + k] * st;
      return out;
    }
    var mapCache = { key: null, values: null, max: 0 };
    var mapBuffer = null; // one map's values for a single head or rollout, reused: only the shown map is kept
    function map(layer, head) {
      var key = layer + "/" + head;
      if (mapCache.key === key) return mapCache;
      var values,
        max = -Infinity,
        i;
      if (head === "mean") {
        values = meanMap(layer);
        for (i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
      } else {
        values = mapBuffer || (mapBuffer = new Float64Array(Q * K));
        var ints = head === "rollout" ? data.rollout : data.ints;
        var lows = head === "rollout" ? data.rlow : data.low;
        var steps = head === "rollout" ? data.rstep : data.step;
        var first = head === "rollout" ? layer * Q : (layer * H + head) * Q;
        for (var q = 0; q < Q; q++) {
          var r = first + q,
            lo = lows[r],
            st = steps[r],
            base = r * K,
            out = q * K;
          for (var k = 0; k < K; k++) {
            var v = lo + ints[base + k] * st;
            values[out + k] = v;
            if (v > max) max = v;
          }
        }
      }
      mapCache = { key: key, values: values, max: max };
      return mapCache;
    }
    function value(layer, head, query, key) {
      check({ layer: layer, head: head, query: query });
      if (!(Number.isInteger(key) && key >= 0 && key < K)) {
        throw new Error("value() got key=" + JSON.stringify(key) + "; expected an integer from 0 to " + (K - 1));
      }
      return row(layer, head, query)[key];
    }

    // -- checking what the caller asks for -------------------------------------------------------
    function check(s) {
      if ("layer" in s && !(Number.isInteger(s.layer) && s.layer >= 0 && s.layer < L)) {
        throw new Error("anycapture: layer=" + JSON.stringify(s.layer) + " is not a layer; expected 0 to " + (L - 1));
      }
      if ("head" in s && heads.indexOf(s.head) < 0) {
        throw new Error(
          "anycapture: head=" + JSON.stringify(s.head) + " is not a head; expected one of " + JSON.stringify(heads),
        );
      }
      if ("query" in s && !(Number.isInteger(s.query) && s.query >= 0 && s.query < Q)) {
        throw new Error("anycapture: query=" + JSON.stringify(s.query) + " is not a query; expected 0 to " + (Q - 1));
      }
      if ("view" in s && views.indexOf(s.view) < 0) {
        throw new Error(
          "anycapture: view=" + JSON.stringify(s.view) + " is not a view; expected one of " + JSON.stringify(views),
        );
      }
      if ("all_heads" in s && typeof s.all_heads !== "boolean") {
        throw new Error("anycapture: all_heads=" + JSON.stringify(s.all_heads) + " is not true or false");
      }
      if ("scale" in s && ["shared", "map", "row"].indexOf(s.scale) < 0) {
        throw new Error(
          "anycapture: scale=" + JSON.stringify(s.scale) + ' is not a scale; expected "shared", "map" or "row"',
        );
      }
    }

    // -- the page's elements ---------------------------------------------------------------------
    var ui = {};
    var bar = el("div", { className: "acx-bar" }, root);
    el("span", { className: "acx-title", text: cfg.title }, bar);
    var tabs = el("span", { className: "acx-tabs" }, bar);
    ui.tabs = {};
    views.forEach(function (v) {
      ui.tabs[v] = el("button", { type: "button", "data-view": v, text: v }, tabs);
    });
    function labelled(text, parent) {
      var label = el("label", null, parent);
      el("span", { text: text }, label);
      return el("select", null, label);
    }
    ui.layer = labelled("layer", bar);
    ui.layer.setAttribute("data-control", "layer");
    cfg.layer_names.forEach(function (name, i) {
      el("option", { value: String(i), text: i + ": " + name }, ui.layer);
    });
    ui.head = labelled("head", bar);
    ui.head.setAttribute("data-control", "head");
    heads.forEach(function (h) {
      el(
        "option",
        {
          value: String(h),
          text: h === "mean" ? "mean of heads" : h === "rollout" ? "rollout (layers 0..L)" : "head " + h,
        },
        ui.head,
      );
    });
    ui.scale = labelled("colour scale", bar);
    ui.scale.setAttribute("data-control", "scale");
    el("option", { value: "map", text: "per map" }, ui.scale);
    el("option", { value: "shared", text: "shared across maps" }, ui.scale);
    el("option", { value: "row", text: "per query row" }, ui.scale);

    var body = el("div", { className: "acx-body" }, root);
    ui.panels = {};
    views.forEach(function (v) {
      ui.panels[v] = el("div", { className: "acx-panel", "data-panel": v }, body);
    });

    // token view: two columns of tokens and a canvas between them
    var ROW = 18;
    var legend = el("div", { className: "acx-heads" }, ui.panels.tokens);
    var allLabel = el("label", null, legend);
    ui.allHeads = el("input", { type: "checkbox", "data-control": "all-heads" }, allLabel);
    el("span", { text: " every head in its colour" }, allLabel);
    ui.swatches = [];
    for (var sw = 0; sw < H; sw++) {
      var swatch = el(
        "span",
        { className: "acx-swatch", "data-head": String(sw), title: "show head " + sw + " alone" },
        legend,
      );
      swatch.style.background = "rgb(" + HEAD_COLOURS[sw % HEAD_COLOURS.length].join(",") + ")";
      swatch.textContent = String(sw);
      ui.swatches.push(swatch);
    }
    ui.scroll = el("div", { className: "acx-scroll" }, ui.panels.tokens);
    ui.scroll.style.height = Math.min(Math.max(Q, K) * ROW + 2, 520) + "px";
    var columns = el("div", { className: "acx-columns" }, ui.scroll);
    ui.qcol = el("div", { className: "acx-col acx-qcol" }, columns);
    ui.lines = el("canvas", { className: "acx-lines" }, columns);
    ui.kcol = el("div", { className: "acx-col acx-kcol" }, columns);
    ui.qtok = cfg.query_tokens.map(function (t, i) {
      return el("div", { className: "acx-tok", "data-query": String(i), title: i + ": " + t, text: t }, ui.qcol);
    });
    ui.ktok = cfg.key_tokens.map(function (t, j) {
      return el("div", { className: "acx-tok", "data-key": String(j), title: j + ": " + t, text: t }, ui.kcol);
    });
    columns.style.height = Math.max(Q, K) * ROW + "px";

    // matrix view
    var matrixWrap = el("div", { className: "acx-stage" }, ui.panels.matrix);
    ui.matrix = el("canvas", { className: "acx-matrix" }, matrixWrap);
    ui.tip = el("div", { className: "acx-tip" }, matrixWrap);
    // Labelled cells (10 to 24 pixels) are whole pixels; past 56 tokens the map fills 560 pixels
    // (cells of 2.84 for a ViT's 197) rather than shrinking to the whole number below.
    var cell = Math.max(1, Math.min(24, 560 / Math.max(Q, K)));
    if (cell >= 10) cell = Math.floor(cell);
    var labelsOn = cell >= 10;
    var margin = labelsOn ? 90 : 34;
    var offscreen = document.createElement("canvas");
    offscreen.width = K;
    offscreen.height = Q;
    var pixels = offscreen.getContext("2d").createImageData(K, Q);

    // model view
    ui.model = el("canvas", { className: "acx-model" }, el("div", { className: "acx-stage" }, ui.panels.model));
    ui.modelTip = el("div", { className: "acx-tip" }, ui.model.parentNode);
    var thumb = Math.max(20, Math.min(72, Math.floor(760 / (H + 1))));
    // A thumbnail keeps its map's shape (queries x keys): cross-attention's 7 x 23 is wide, not square.
    var thumbW = K >= Q ? thumb : Math.max(8, Math.round((thumb * K) / Q)),
      thumbH = Q >= K ? thumb : Math.max(8, Math.round((thumb * Q) / K));
    var modelLeft = 110,
      modelTop = 20,
      gap = 4;
    var thumbs = {}; // "layer/head" -> pooled Float64Array, made once
    // Row labels: what tells the layers apart ("3" of "encoder.layer.3.attention.self"), by
    // cutting the part every name shares at each end; the tooltip gives the whole name.
    var shortNames = (function (names) {
      if (names.length < 2)
        return names.map(function (n) {
          return clip(n, 16);
        });
      var head = names[0].length,
        tail = names[0].length;
      names.forEach(function (n) {
        var i = 0;
        while (i < head && i < n.length && n[i] === names[0][i]) i++;
        head = i;
        var j = 0;
        while (j < tail && j < n.length && n[n.length - 1 - j] === names[0][names[0].length - 1 - j]) j++;
        tail = j;
      });
      // cut only at separators: "a.1" is no shared part of "a.1.x" and "a.11.x"
      var word = /[A-Za-z0-9_]/;
      while (head > 0 && word.test(names[0][head - 1])) head--;
      while (tail > 0 && word.test(names[0][names[0].length - tail])) tail--;
      return names.map(function (n) {
        var part = n.slice(head, Math.max(head, n.length - tail)) || n;
        return clip(part, 16);
      });
    })(cfg.layer_names);
    // what the canvas shows, for screen readers (and tests): its rows' labels and its columns
    ui.model.setAttribute(
      "aria-label",
      "thumbnails of every layer and head; rows (layers): " +
        shortNames.join(", ") +
        "; columns: heads 0 to " +
        (H - 1) +
        " and their mean",
    );

    // patch view
    if (cfg.grid) {
      var patchWrap = el("div", { className: "acx-patchwrap" }, ui.panels.patches);
      ui.imageBox = el("div", { className: "acx-image", "data-image": "" }, patchWrap);
      ui.patch = el("canvas", { className: "acx-patch" }, ui.imageBox);
      ui.patchTip = el("div", { className: "acx-tip" }, ui.imageBox);
      ui.prefix = el("div", { className: "acx-prefix" }, patchWrap);
      var fit = 448 / Math.max(cfg.image_size[0], cfg.image_size[1]);
      ui.patch.width = Math.round(cfg.image_size[1] * fit);
      ui.patch.height = Math.round(cfg.image_size[0] * fit);
      ui.prefixRows = [];
      for (var p = 0; p < cfg.prefix; p++) {
        var line = el("div", { className: "acx-prefix-row", "data-query": String(p) }, ui.prefix);
        el("span", { className: "acx-prefix-name", text: cfg.query_tokens[p] }, line);
        ui.prefixRows.push(el("span", { className: "acx-prefix-value" }, line));
      }
      ui.patchTotal = el("div", { className: "acx-prefix-total" }, ui.prefix);
      var img = new Image();
      img.onload = function () {
        data.image = img;
        if (state.view === "patches") render();
      };
      img.src = blobs.image.textContent.trim();
      blobs.image.textContent = "";
    }

    var scaleBox = el("div", { className: "acx-scale" }, root);
    ui.bar = el("canvas", { className: "acx-colorbar", width: "220", height: "12" }, scaleBox);
    ui.scaleLow = el("span", { className: "acx-scale-end" }, scaleBox);
    ui.scaleHigh = el("span", { className: "acx-scale-end" }, scaleBox);
    scaleBox.insertBefore(ui.scaleLow, ui.bar);
    ui.scaleNote = el("span", { className: "acx-scale-note" }, scaleBox);
    ui.status = el("div", { className: "acx-status" }, root);
    el(
      "div",
      {
        className: "acx-help",
        text:
          "Up/Down: query · Left/Right: head · Shift+Up/Down: layer · hover or click a query token or patch to select it, hover a key to see what attends to it · stored to within " +
          fmt(cfg.max_abs_error),
      },
      root,
    );

    // -- colour scale ----------------------------------------------------------------------------
    function scaleFor(layer, head, query) {
      var low = Math.min(0, cfg.shared_min === undefined ? 0 : cfg.shared_min);
      if (state.scale === "shared") {
        var top = head === "rollout" ? cfg.rollout_max : cfg.shared_max;
        return {
          low: low,
          high: top,
          note: head === "rollout" ? "shared across all rollout maps" : "shared across all layers and heads",
        };
      }
      if (state.view === "tokens" && state.all_heads && !(state.scale === "shared" && head !== "rollout")) {
        // Every head at once: one scale for all, so that their lines compare.
        var most = -Infinity;
        for (var h = 0; h < H; h++) {
          var one = row(layer, h, query);
          for (var j = 0; j < K; j++) if (one[j] > most) most = one[j];
        }
        return {
          low: low,
          high: most,
          note: "every head in its colour: to the largest weight of " + queryName(query) + " over heads",
        };
      }
      if (state.scale === "row" && state.view === "matrix") {
        return { low: low, high: null, top: "row max", note: "per query row: each row to its own maximum" };
      }
      if (state.scale === "row" && state.view !== "model") {
        // In the patch view the row's patches set the scale: the prefix tokens' weights are printed beside.
        var first = state.view === "patches" ? cfg.prefix : 0;
        var values = row(layer, head, query),
          max = -Infinity;
        for (var k = first; k < K; k++) if (values[k] > max) max = values[k];
        return {
          low: low,
          high: max,
          note: "per query row: " + queryName(query) + " only" + (first ? ", its patches" : ""),
        };
      }
      if (state.view === "model") {
        return { low: low, high: null, top: "map max", note: "per map: each thumbnail to its own maximum" };
      }
      return {
        low: low,
        high: map(layer, head).max,
        note: "per map: layer " + layer + ", " + headName(head) + " only",
      };
    }
    function norm(v, s) {
      var span = s.high - s.low;
      return span > 0 ? Math.max(0, Math.min(1, (v - s.low) / span)) : 0;
    }
    function headName(head) {
      return head === "mean"
        ? "mean of heads"
        : head === "rollout"
          ? "rollout through layer " + state.layer
          : "head " + head;
    }
    function drawScale(s) {
      var ctx = ui.bar.getContext("2d");
      for (var x = 0; x < 220; x++) {
        var t = x / 219,
          i = Math.round(t * 255);
        if (state.view === "tokens") ctx.fillStyle = "rgba(" + LINE.join(",") + "," + t + ")";
        else if (state.view === "patches") ctx.fillStyle = "rgba(0,0,0," + 0.85 * (1 - t) + ")";
        else ctx.fillStyle = "rgb(" + LUT[i * 3] + "," + LUT[i * 3 + 1] + "," + LUT[i * 3 + 2] + ")";
        ctx.clearRect(x, 0, 1, 12);
        ctx.fillRect(x, 0, 1, 12);
      }
      ui.scaleLow.textContent = fmt(s.low);
      ui.scaleHigh.textContent = s.high === null ? s.top : fmt(s.high);
      ui.scaleNote.textContent = "scale: " + s.note;
      ui.scaleNote.setAttribute("data-scale", state.scale);
    }

    // -- views -----------------------------------------------------------------------------------
    var shades = new Int8Array(K); // each key's shading step now shown
    var qshades = new Int8Array(Q); // each query's, while a key is hovered
    var shownQuery = null;
    // A key hovered in the token view turns the lines round, as bertviz's head view does: from
    // every query to that key, which shows what attends to it.
    var keyFocus = null;
    function shade(nodes, levels, i, level) {
      if (levels[i] === level) return;
      nodes[i].style.backgroundColor = level
        ? "rgba(" + LINE.join(",") + "," + ((0.85 * level) / 32).toFixed(3) + ")"
        : "";
      levels[i] = level;
    }
    function drawTokens(s) {
      var view = ui.scroll,
        y = state.query * ROW;
      if (
        keyFocus === null &&
        view.clientHeight &&
        (y < view.scrollTop || y + ROW > view.scrollTop + view.clientHeight)
      ) {
        view.scrollTop = Math.max(0, y - view.clientHeight / 2); // a query moved by the keys stays in sight
      }
      var canvas = ui.lines;
      var height = ui.scroll.clientHeight || 400;
      var width = 160;
      if (canvas.width !== width) canvas.width = width;
      if (canvas.height !== height) canvas.height = height;
      canvas.style.top = ui.scroll.scrollTop + "px";
      var ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, width, height);
      var top = ui.scroll.scrollTop;
      // Weights fall into 32 steps of opacity: one path per step (not one per line) and a token's
      // shading written only when its step changed, so that thousands of tokens redraw quickly.
      var paths = [],
        k,
        q,
        level;
      var colour = LINE;
      if (keyFocus === null && state.all_heads) {
        // one group of paths per head and step: drawn in the head's colour below
        var yq = state.query * ROW + ROW / 2 - top;
        for (var h = 0; h < H; h++) {
          var weights = row(state.layer, h, state.query);
          for (k = 0; k < K; k++) {
            level = Math.round(norm(weights[k], s) * 32);
            if (level) (paths[h * 33 + level] || (paths[h * 33 + level] = [])).push([yq, k * ROW + ROW / 2 - top]);
          }
        }
        for (k = 0; k < K; k++) shade(ui.ktok, shades, k, 0);
        for (q = 0; q < Q; q++) shade(ui.qtok, qshades, q, 0);
      } else if (keyFocus === null) {
        var values = row(state.layer, state.head, state.query);
        var y0 = state.query * ROW + ROW / 2 - top;
        for (k = 0; k < K; k++) {
          level = Math.round(norm(values[k], s) * 32);
          shade(ui.ktok, shades, k, level);
          if (level) (paths[level] || (paths[level] = [])).push([y0, k * ROW + ROW / 2 - top]);
        }
        for (q = 0; q < Q; q++) shade(ui.qtok, qshades, q, 0);
      } else {
        var m = map(state.layer, state.head).values,
          yk = keyFocus * ROW + ROW / 2 - top,
          most = -Infinity;
        for (q = 0; q < Q; q++) most = Math.max(most, m[q * K + keyFocus]);
        var column = state.scale === "row" ? { low: s.low, high: most } : s;
        for (q = 0; q < Q; q++) {
          level = Math.round(norm(m[q * K + keyFocus], column) * 32);
          shade(ui.qtok, qshades, q, level);
          if (level) (paths[level] || (paths[level] = [])).push([q * ROW + ROW / 2 - top, yk]);
        }
        for (k = 0; k < K; k++) shade(ui.ktok, shades, k, k === keyFocus ? 32 : 0);
        if (state.scale === "row") {
          ui.scaleHigh.textContent = fmt(most);
          ui.scaleNote.textContent = "scale: per key column: " + keyName(keyFocus) + " only";
        }
      }
      paths.forEach(function (group, index) {
        var step = index % 33,
          hue =
            state.all_heads && keyFocus === null ? HEAD_COLOURS[Math.floor(index / 33) % HEAD_COLOURS.length] : colour;
        ctx.strokeStyle = "rgba(" + hue.join(",") + "," + (step / 32).toFixed(3) + ")";
        ctx.lineWidth = 0.5 + (2.5 * step) / 32;
        ctx.beginPath();
        group.forEach(function (ends) {
          ctx.moveTo(2, ends[0]);
          ctx.lineTo(width - 2, ends[1]);
        });
        ctx.stroke();
      });
      ui.allHeads.checked = state.all_heads;
      ui.swatches.forEach(function (node, h) {
        node.classList.toggle("acx-on", state.all_heads || h === state.head);
      });
      if (shownQuery !== null && ui.qtok[shownQuery]) ui.qtok[shownQuery].classList.remove("acx-on");
      ui.qtok[state.query].classList.add("acx-on");
      shownQuery = state.query;
    }

    function drawMatrix(s) {
      var m = map(state.layer, state.head);
      var px = new Uint32Array(pixels.data.buffer);
      var low = s.low,
        values = m.values,
        i,
        c;
      if (s.high === null) {
        // per query row: each row from the scale's low to its own maximum
        for (var r = 0; r < Q; r++) {
          var top = -Infinity,
            at = r * K;
          for (i = at; i < at + K; i++) if (values[i] > top) top = values[i];
          var rowScale = top - low > 0 ? 255 / (top - low) : 0;
          for (i = at; i < at + K; i++) {
            c = (values[i] - low) * rowScale;
            px[i] = LUT32[c <= 0 ? 0 : c >= 255 ? 255 : Math.round(c)];
          }
        }
      } else {
        var span = s.high - s.low,
          scale = span > 0 ? 255 / span : 0;
        for (i = 0; i < Q * K; i++) {
          c = (values[i] - low) * scale;
          px[i] = LUT32[c <= 0 ? 0 : c >= 255 ? 255 : Math.round(c)];
        }
      }
      offscreen.getContext("2d").putImageData(pixels, 0, 0);
      var canvas = ui.matrix;
      canvas.width = margin + K * cell + 4;
      canvas.height = margin + Q * cell + 4;
      var ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(offscreen, margin, margin, K * cell, Q * cell);
      ctx.fillStyle = "#333";
      ctx.font = "11px sans-serif";
      if (labelsOn) {
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        for (var q = 0; q < Q; q++)
          ctx.fillText(clip(cfg.query_tokens[q], 12), margin - 4, margin + q * cell + cell / 2);
        for (var k = 0; k < K; k++) {
          ctx.save();
          ctx.translate(margin + k * cell + cell / 2, margin - 4);
          ctx.rotate(-Math.PI / 2);
          ctx.textAlign = "left";
          ctx.fillText(clip(cfg.key_tokens[k], 12), 0, 0);
          ctx.restore();
        }
        // the corner above the query labels names the axes
        ctx.fillStyle = "#777";
        ctx.textAlign = "right";
        ctx.fillText("keys →", margin - 6, margin - 24);
        ctx.fillText("queries ↓", margin - 6, margin - 10);
      } else {
        ctx.textAlign = "left";
        ctx.fillText("keys →", margin, margin - 8);
        ctx.save();
        ctx.translate(margin - 8, margin + 40);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText("← queries", 0, 0);
        ctx.restore();
      }
      ctx.strokeStyle = "#e3342f";
      ctx.lineWidth = 1;
      ctx.strokeRect(margin - 0.5, margin + state.query * cell - 0.5, K * cell + 1, cell + 1);
    }

    // Thumbnails average blocks of cells when a map is larger than its thumbnail, and show every
    // cell (scaled up, not smoothed) when it is smaller.
    var pw = Math.min(thumbW, K),
      ph = Math.min(thumbH, Q);
    var small = document.createElement("canvas");
    small.width = pw;
    small.height = ph;
    function pooled(layer, head) {
      var key = layer + "/" + head;
      if (thumbs[key]) return thumbs[key];
      var out = new Float64Array(pw * ph),
        i,
        max = 0;
      if (head === "mean") {
        // Block averages are linear: the mean's thumbnail is the mean of the heads' thumbnails.
        for (var h = 0; h < H; h++) {
          var one = pooled(layer, h).values;
          for (i = 0; i < out.length; i++) out[i] += one[i] / H;
        }
      } else {
        // Per row, the stored integers are summed per block of columns (integer adds only); the
        // row's offset and step turn each sum into a sum of values: n * low + step * sum.
        var cols = new Int32Array(K),
          colCount = new Float64Array(pw),
          rowCount = new Float64Array(ph);
        var sums = new Float64Array(pw),
          ints = data.ints,
          k,
          c;
        for (k = 0; k < K; k++) {
          cols[k] = Math.floor((k * pw) / K);
          colCount[cols[k]] += 1;
        }
        for (var q = 0; q < Q; q++) {
          var r = (layer * H + head) * Q + q,
            lo = data.low[r],
            st = data.step[r],
            base = r * K;
          var py = Math.floor((q * ph) / Q),
            at = py * pw;
          rowCount[py] += 1;
          sums.fill(0);
          for (k = 0; k < K; k++) sums[cols[k]] += ints[base + k];
          for (c = 0; c < pw; c++) out[at + c] += colCount[c] * lo + st * sums[c];
        }
        for (i = 0; i < out.length; i++) out[i] /= rowCount[Math.floor(i / pw)] * colCount[i % pw];
      }
      for (i = 0; i < out.length; i++) if (out[i] > max) max = out[i];
      thumbs[key] = { values: out, max: max };
      return thumbs[key];
    }
    function drawModel(s) {
      var canvas = ui.model;
      var columns = H + 1;
      canvas.width = modelLeft + columns * (thumbW + gap);
      canvas.height = modelTop + L * (thumbH + gap);
      var ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.font = "11px sans-serif";
      ctx.fillStyle = "#333";
      ctx.textBaseline = "middle";
      ctx.textAlign = "center";
      for (var h = 0; h <= H; h++)
        ctx.fillText(h === H ? "mean" : "head " + h, modelLeft + h * (thumbW + gap) + thumbW / 2, 10);
      var sctx = small.getContext("2d");
      var image = sctx.createImageData(pw, ph);
      for (var layer = 0; layer < L; layer++) {
        ctx.textAlign = "right";
        ctx.fillStyle = "#333";
        ctx.fillText(shortNames[layer], modelLeft - 6, modelTop + layer * (thumbH + gap) + thumbH / 2);
        for (h = 0; h <= H; h++) {
          var t = pooled(layer, h === H ? "mean" : h);
          var scale = state.scale === "shared" ? { low: s.low, high: cfg.shared_max } : { low: s.low, high: t.max };
          for (var i = 0; i < t.values.length; i++) {
            var c = Math.round(norm(t.values[i], scale) * 255) * 3;
            image.data[i * 4] = LUT[c];
            image.data[i * 4 + 1] = LUT[c + 1];
            image.data[i * 4 + 2] = LUT[c + 2];
            image.data[i * 4 + 3] = 255;
          }
          sctx.putImageData(image, 0, 0);
          var x = modelLeft + h * (thumbW + gap),
            y = modelTop + layer * (thumbH + gap);
          ctx.drawImage(small, x, y, thumbW, thumbH);
          if (layer === state.layer && (h === H ? "mean" : h) === state.head) {
            ctx.strokeStyle = "#e3342f";
            ctx.lineWidth = 2;
            ctx.strokeRect(x - 1, y - 1, thumbW + 2, thumbH + 2);
          }
        }
      }
    }

    function drawPatches(s) {
      var canvas = ui.patch,
        ctx = canvas.getContext("2d");
      var rows = cfg.grid[0],
        cols = cfg.grid[1],
        prefix = cfg.prefix;
      var values = row(state.layer, state.head, state.query);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.imageSmoothingEnabled = canvas.width < 2 * cfg.image_size[1]; // a small image stays in sharp pixels
      if (data.image) ctx.drawImage(data.image, 0, 0, canvas.width, canvas.height);
      var pw = canvas.width / cols,
        ph = canvas.height / rows;
      var total = 0;
      for (var r = 0; r < rows; r++) {
        for (var c = 0; c < cols; c++) {
          var v = values[prefix + r * cols + c];
          total += v;
          // A spotlight: the image shows through where the query looks and is dimmed elsewhere.
          var a = norm(v, s);
          ctx.fillStyle = "rgba(0,0,0," + (0.85 * (1 - a)).toFixed(3) + ")";
          ctx.fillRect(c * pw, r * ph, pw, ph);
        }
      }
      if (state.query >= prefix) {
        var qr = Math.floor((state.query - prefix) / cols),
          qc = (state.query - prefix) % cols;
        ctx.strokeStyle = "#ff2d55";
        ctx.lineWidth = 2;
        ctx.strokeRect(qc * pw + 1, qr * ph + 1, pw - 2, ph - 2);
      }
      for (var p = 0; p < prefix; p++) {
        ui.prefixRows[p].textContent = fmt(values[p]);
        ui.prefixRows[p].parentNode.classList.toggle("acx-on", p === state.query);
      }
      ui.patchTotal.textContent = "all " + rows * cols + " patches: " + fmt(total);
    }

    // -- rendering -------------------------------------------------------------------------------
    function render() {
      ui.layer.value = String(state.layer);
      ui.head.value = String(state.head);
      ui.scale.value = state.scale;
      views.forEach(function (v) {
        ui.panels[v].style.display = v === state.view ? "" : "none";
        ui.tabs[v].classList.toggle("acx-on", v === state.view);
      });
      var s = scaleFor(state.layer, state.head, state.query);
      if (state.view === "tokens") drawTokens(s);
      else if (state.view === "matrix") drawMatrix(s);
      else if (state.view === "model") drawModel(s);
      else drawPatches(s);
      drawScale(s);
      var named =
        cfg.layer_names[state.layer] === "layer " + state.layer ? "" : " (" + cfg.layer_names[state.layer] + ")";
      ui.status.textContent =
        "layer " +
        state.layer +
        named +
        " · " +
        (state.all_heads && state.view === "tokens" ? "every head in its colour" : headName(state.head)) +
        " · " +
        queryName(state.query);
    }

    function select(s) {
      s = s || {};
      check(s);
      ["view", "layer", "head", "query", "scale", "all_heads"].forEach(function (key) {
        if (key in s) state[key] = s[key];
      });
      render();
      return api.state();
    }

    // -- input -----------------------------------------------------------------------------------
    function tokenIndex(event, attr) {
      var node = event.target.closest("[" + attr + "]");
      return node && root.contains(node) ? parseInt(node.getAttribute(attr), 10) : null;
    }
    // Hover selects only when the pointer itself moved: tokens scrolled under a still pointer
    // (after the arrow keys moved the query) do not take the selection back.
    var pointer = { x: null, y: null };
    ui.qcol.addEventListener("mousemove", function (event) {
      if (event.clientX === pointer.x && event.clientY === pointer.y) return;
      pointer = { x: event.clientX, y: event.clientY };
      var q = tokenIndex(event, "data-query");
      if (q !== null && q !== state.query) select({ query: q });
    });
    ui.qcol.addEventListener("click", function (event) {
      var q = tokenIndex(event, "data-query");
      if (q !== null) select({ query: q });
    });
    ui.kcol.addEventListener("mouseover", function (event) {
      var k = tokenIndex(event, "data-key");
      if (k === null) return;
      keyFocus = k;
      state.hover = { query: null, key: k };
      drawTokens(scaleFor(state.layer, state.head, state.query));
      ui.status.textContent =
        queryName(state.query) +
        " → " +
        keyName(k) +
        ": " +
        fmt(row(state.layer, state.head, state.query)[k]) +
        " · the lines: what attends to key " +
        k;
    });
    ui.allHeads.addEventListener("change", function () {
      select({ all_heads: ui.allHeads.checked });
    });
    legend.addEventListener("click", function (event) {
      var node = event.target.closest("[data-head]");
      if (node) select({ head: parseInt(node.getAttribute("data-head"), 10), all_heads: false });
    });
    ui.kcol.addEventListener("mouseleave", function () {
      keyFocus = null;
      state.hover = null;
      if (state.view === "tokens") render();
    });
    ui.scroll.addEventListener("scroll", function () {
      if (state.view === "tokens") drawTokens(scaleFor(state.layer, state.head, state.query));
    });
    function cellAt(event) {
      var box = ui.matrix.getBoundingClientRect();
      var x = (event.clientX - box.left) * (ui.matrix.width / box.width) - margin;
      var y = (event.clientY - box.top) * (ui.matrix.height / box.height) - margin;
      var k = Math.floor(x / cell),
        q = Math.floor(y / cell);
      return k >= 0 && k < K && q >= 0 && q < Q
        ? { query: q, key: k, x: event.clientX - box.left, y: event.clientY - box.top }
        : null;
    }
    ui.matrix.addEventListener("mousemove", function (event) {
      var at = cellAt(event);
      state.hover = at ? { query: at.query, key: at.key } : null;
      if (!at) {
        ui.tip.style.display = "none";
        return;
      }
      var v = map(state.layer, state.head).values[at.query * K + at.key];
      ui.tip.textContent = queryName(at.query) + " → " + keyName(at.key) + ": " + fmt(v);
      ui.tip.style.display = "block";
      place(ui.tip, ui.matrix, at);
    });
    ui.matrix.addEventListener("mouseleave", function () {
      ui.tip.style.display = "none";
      state.hover = null;
    });
    ui.matrix.addEventListener("click", function (event) {
      var at = cellAt(event);
      if (at) select({ query: at.query });
    });
    // A tooltip beside the pointer, on its left where the right side would leave the canvas.
    function place(tip, canvas, at) {
      var right = at.x + 14 + tip.offsetWidth > canvas.clientWidth;
      tip.style.left = (right ? Math.max(0, at.x - 14 - tip.offsetWidth) : at.x + 14) + "px";
      tip.style.top = at.y + 10 + "px";
    }
    function thumbAt(event) {
      var box = ui.model.getBoundingClientRect();
      var x = (event.clientX - box.left) * (ui.model.width / box.width) - modelLeft;
      var y = (event.clientY - box.top) * (ui.model.height / box.height) - modelTop;
      var h = Math.floor(x / (thumbW + gap)),
        layer = Math.floor(y / (thumbH + gap));
      if (h < 0 || h > H || layer < 0 || layer >= L) return null;
      return { layer: layer, head: h === H ? "mean" : h, x: event.clientX - box.left, y: event.clientY - box.top };
    }
    ui.model.addEventListener("click", function (event) {
      var at = thumbAt(event);
      if (at) select({ layer: at.layer, head: at.head, view: "matrix" });
    });
    ui.model.addEventListener("mousemove", function (event) {
      var at = thumbAt(event);
      ui.modelTip.style.display = at ? "block" : "none";
      if (!at) return;
      ui.modelTip.textContent =
        "layer " + at.layer + " (" + cfg.layer_names[at.layer] + "), " + headName(at.head) + ": click to open";
      place(ui.modelTip, ui.model, at);
    });
    if (cfg.grid) {
      var patchAt = function (event) {
        var box = ui.patch.getBoundingClientRect();
        var c = Math.floor(((event.clientX - box.left) / box.width) * cfg.grid[1]);
        var r = Math.floor(((event.clientY - box.top) / box.height) * cfg.grid[0]);
        if (r < 0 || r >= cfg.grid[0] || c < 0 || c >= cfg.grid[1]) return null;
        return { key: cfg.prefix + r * cfg.grid[1] + c, x: event.clientX - box.left, y: event.clientY - box.top };
      };
      ui.patch.addEventListener("click", function (event) {
        var at = patchAt(event);
        if (at) select({ query: at.key });
      });
      // Hovering a patch prints the selected query's weight on it.
      ui.patch.addEventListener("mousemove", function (event) {
        var at = patchAt(event);
        state.hover = at ? { query: state.query, key: at.key } : null;
        ui.patchTip.style.display = at ? "block" : "none";
        if (!at) return;
        ui.patchTip.textContent =
          queryName(state.query) +
          " → patch " +
          cfg.key_tokens[at.key] +
          " (token " +
          at.key +
          "): " +
          fmt(row(state.layer, state.head, state.query)[at.key]) +
          " · click to make it the query";
        place(ui.patchTip, ui.patch, at);
      });
      ui.patch.addEventListener("mouseleave", function () {
        ui.patchTip.style.display = "none";
        state.hover = null;
      });
      ui.prefix.addEventListener("click", function (event) {
        var q = tokenIndex(event, "data-query");
        if (q !== null) select({ query: q });
      });
    }
    views.forEach(function (v) {
      ui.tabs[v].addEventListener("click", function () {
        select({ view: v });
      });
    });
    ui.layer.addEventListener("change", function () {
      select({ layer: parseInt(ui.layer.value, 10) });
    });
    ui.head.addEventListener("change", function () {
      var v = ui.head.value;
      select({ head: v === "mean" || v === "rollout" ? v : parseInt(v, 10) });
    });
    ui.scale.addEventListener("change", function () {
      select({ scale: ui.scale.value });
    });
    root.addEventListener("keydown", function (event) {
      if (event.target.tagName === "SELECT") return;
      var move = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -1, ArrowRight: 1 }[event.key];
      if (!move) return;
      event.preventDefault();
      if (event.shiftKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        select({ layer: (state.layer + move + L) % L });
      } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
        select({ query: (state.query + move + Q) % Q });
      } else {
        var i = heads.indexOf(state.head);
        // from every head in its colour, the keys go back to one head at a time
        select({ head: heads[(i + move + heads.length) % heads.length], all_heads: false });
      }
    });
    root.addEventListener("mousedown", function (event) {
      if (event.target.tagName !== "SELECT") root.focus({ preventScroll: true });
    });

    var api = {
      id: root.id,
      info: function () {
        return {
          id: root.id,
          title: cfg.title,
          layers: L,
          heads: H,
          queries: Q,
          keys: K,
          max_abs_error: cfg.max_abs_error,
          encoding: cfg.encoding,
          layer_names: cfg.layer_names.slice(),
          query_tokens: cfg.query_tokens.slice(),
          key_tokens: cfg.key_tokens.slice(),
          head_choices: heads.slice(),
          views: views.slice(),
          rollout: !!data.rollout,
          grid: cfg.grid ? cfg.grid.slice() : null,
          prefix: cfg.prefix,
        };
      },
      state: function () {
        return {
          view: state.view,
          layer: state.layer,
          head: state.head,
          query: state.query,
          scale: state.scale,
          all_heads: state.all_heads,
          hover: state.hover ? { query: state.hover.query, key: state.hover.key } : null,
        };
      },
      select: select,
      value: value,
      row: function (layer, head, query) {
        check({ layer: layer, head: head, query: query });
        return Array.prototype.slice.call(row(layer, head, query));
      },
    };
    render();
    return api;
  }

  var registry = {};
  var order = [];
  function current() {
    if (!order.length) throw new Error("anycapture: no explorer on this page");
    return registry[order[order.length - 1]];
  }
  window.anycapture = {
    version: VERSION,
    explorers: registry,
    mount: function (root) {
      if (!root) throw new Error("anycapture.mount() needs the explorer's element");
      if (registry[root.id]) return registry[root.id];
      // The static note shown until now ("the script has not run") goes once the explorer is
      // drawn, or says why it could not be.
      var note = root.querySelector("[data-placeholder]");
      var explorer;
      try {
        explorer = Explorer(root);
      } catch (error) {
        if (note) note.textContent = "anycapture: this explorer could not be drawn: " + error.message;
        throw error;
      }
      if (note) note.remove();
      registry[root.id] = explorer;
      order.push(root.id);
      // A saved page (body.acx-page) holds one explorer: it takes the keyboard at once. Inline in a
      // notebook it waits for a click, as taking the focus there would steal it from the cells.
      if (document.body && document.body.classList.contains("acx-page") && order.length === 1) {
        root.focus({ preventScroll: true });
      }
      return explorer;
    },
    get: function (id) {
      if (!registry[id])
        throw new Error("anycapture: no explorer with id " + JSON.stringify(id) + "; ids: " + JSON.stringify(order));
      return registry[id];
    },
    ids: function () {
      return order.slice();
    },
    info: function () {
      return current().info();
    },
    state: function () {
      return current().state();
    },
    select: function (s) {
      return current().select(s);
    },
    value: function (layer, head, query, key) {
      return current().value(layer, head, query, key);
    },
    row: function (layer, head, query) {
      return current().row(layer, head, query);
    },
  };
})();
