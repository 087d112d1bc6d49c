// An audit event's inclusion proof, checked in the browser (audit search, event detail).
// SM3 (GB/T 32905-2016) written out here, no library; the Merkle structure is RFC 6962's with
// SM3 (audit/integrity/merkle.py): leaf = SM3(0x00 || canonical event), node =
// SM3(0x01 || left || right), and the path is walked as RFC 9162 §2.1.3.2 says.
(function () {
  "use strict";

  var IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

  function rotl(x, n) {
    n %= 32;
    return ((x << n) | (x >>> (32 - n))) >>> 0;
  }

  function p0(x) { return (x ^ rotl(x, 9) ^ rotl(x, 17)) >>> 0; }
  function p1(x) { return (x ^ rotl(x, 15) ^ rotl(x, 23)) >>> 0; }

  // SM3 of a Uint8Array: a Uint8Array of 32 bytes.
  function sm3(message) {
    var length = message.length;
    var blocks = Math.ceil((length + 9) / 64);
    var padded = new Uint8Array(blocks * 64);
    padded.set(message);
    padded[length] = 0x80;
    var bits = length * 8;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
    view.setUint32(padded.length - 4, bits >>> 0);
    var v = IV.slice();
    var w = new Array(68), w1 = new Array(64);
    for (var b = 0; b < blocks; b++) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(b * 64 + i * 4);
      for (i = 16; i < 68; i++) {
        w[i] = (p1((w[i - 16] ^ w[i - 9] ^ rotl(w[i - 3], 15)) >>> 0) ^ rotl(w[i - 13], 7) ^ w[i - 6]) >>> 0;
      }
      for (i = 0; i < 64; i++) w1[i] = (w[i] ^ w[i + 4]) >>> 0;
      var a = v[0], bb = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
      for (var j = 0; j < 64; j++) {
        var t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
        var ss1 = rotl((rotl(a, 12) + e + rotl(t, j)) >>> 0, 7);
        var ss2 = (ss1 ^ rotl(a, 12)) >>> 0;
        var ff = j < 16 ? (a ^ bb ^ c) : ((a & bb) | (a & c) | (bb & c));
        var gg = j < 16 ? (e ^ f ^ g) : ((e & f) | (~e & g));
        var tt1 = ((ff >>> 0) + d + ss2 + w1[j]) >>> 0;
        var tt2 = ((gg >>> 0) + h + ss1 + w[j]) >>> 0;
        d = c;
        c = rotl(bb, 9);
        bb = a;
        a = tt1;
        h = g;
        g = rotl(f, 19);
        f = e;
        e = p0(tt2);
      }
      v = [a ^ v[0], bb ^ v[1], c ^ v[2], d ^ v[3], e ^ v[4], f ^ v[5], g ^ v[6], h ^ v[7]].map(function (x) { return x >>> 0; });
    }
    var out = new Uint8Array(32);
    var outView = new DataView(out.buffer);
    for (i = 0; i < 8; i++) outView.setUint32(i * 4, v[i]);
    return out;
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (x) { return (x < 16 ? "0" : "") + x.toString(16); }).join("");
  }

  function unhex(text) {
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  function join(prefix, parts) {
    var size = 1;
    parts.forEach(function (p) { size += p.length; });
    var out = new Uint8Array(size);
    out[0] = prefix;
    var at = 1;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function leaf(data) { return sm3(join(0x00, [data])); }
  function node(left, right) { return sm3(join(0x01, [left, right])); }

  // RFC 9162 §2.1.3.2 with each step reported: {level, side, hash}. Numbers stay below 2^53,
  // so halving is done with arithmetic, not 32-bit shifts.
  function walk(index, size, leafHash, path) {
    if (!(index >= 0 && index < size)) throw new Error("path");
    var fn = index, sn = size - 1, r = leafHash, steps = [];
    path.forEach(function (p, level) {
      if (sn === 0) throw new Error("path");
      if (fn % 2 === 1 || fn === sn) {
        r = node(p, r);
        steps.push({ level: level + 1, side: "left", hash: hex(r) });
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = node(r, p);
        steps.push({ level: level + 1, side: "right", hash: hex(r) });
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    });
    if (sn !== 0) throw new Error("path");
    return { root: hex(r), steps: steps };
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return String(values[key]); });
  }

  function check(box) {
    var data = document.getElementById(box.dataset.proof);
    var result = document.getElementById("proof-result");
    var list = document.getElementById("proof-steps");
    if (!data || !result || !list) return;
    var msg = box.dataset;
    function step(text, ok) {
      var item = document.createElement("li");
      item.textContent = text;
      item.className = ok ? "ok" : "bad";
      list.appendChild(item);
    }
    function fail(reason) {
      result.textContent = fill(msg.msgFail, { reason: reason });
      result.className = "proof-result bad";
      box.dataset.verified = "false";
    }
    result.textContent = msg.msgRunning;
    try {
      var proof = JSON.parse(data.textContent);
      var input = new TextEncoder().encode(proof.leaf_input);
      var event = JSON.parse(proof.leaf_input);
      if (!event.event || event.event.id !== box.dataset.eventId || proof.event_id !== box.dataset.eventId) {
        return fail(msg.reasonEvent);
      }
      var ours = leaf(input);
      step(fill(msg.msgLeaf, { hash: hex(ours) }), true);
      if (hex(ours) !== proof.leaf_hash || hex(ours) !== proof.logged_leaf_hash) return fail(msg.reasonLeaf);
      step(msg.msgLogged, true);
      var walked;
      try {
        walked = walk(proof.leaf_index, proof.tree_head.tree_size, ours, proof.audit_path.map(unhex));
      } catch (e) {
        return fail(msg.reasonPath);
      }
      walked.steps.forEach(function (s) {
        step(fill(s.side === "left" ? msg.msgLeft : msg.msgRight, { level: s.level, hash: s.hash }), true);
      });
      if (walked.root !== proof.tree_head.root_hash) {
        step(fill(msg.msgRoot, { hash: walked.root }), false);
        return fail(msg.reasonRoot);
      }
      step(fill(msg.msgRoot, { hash: walked.root }), true);
      result.textContent = msg.msgOk;
      result.className = "proof-result ok";
      box.dataset.verified = "true";
    } catch (e) {
      fail(msg.reasonScript);
    }
  }

  window.anbaoProof = { sm3: function (bytes) { return hex(sm3(bytes)); }, walk: walk };
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("proof-check");
    if (box) check(box);
  });
})();
