// Draws the charts of a cutover report from window.cutoverData with uPlot:
// every chart on one x scale, cursors synced, each event a vertical marker
// with its label on every chart. Part of reporters.HTML; no network.
(function () {
	"use strict";
	var data = window.cutoverData;
	var root = document.getElementById("charts");
	var dpr = window.devicePixelRatio || 1;

	var byX = data.markers.slice().sort(function (a, b) { return a.x - b.x; });

	// markers draws every event's line and label over the plot area.
	function markers() {
		return {
			hooks: {
				draw: [function (u) {
					var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
					ctx.save();
					ctx.font = Math.round(10 * dpr) + "px sans-serif";
					ctx.textAlign = "left";
					ctx.textBaseline = "bottom";
					// Labels of close events step right, so that they do not overlap.
					var next = -Infinity, step = 12 * dpr;
					byX.forEach(function (m) {
						var x = Math.round(u.valToPos(m.x, "x", true));
						if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) {
							return;
						}
						var lx = Math.max(x + 2 * dpr, next);
						next = lx + step;
						ctx.strokeStyle = m.color;
						ctx.fillStyle = m.color;
						ctx.lineWidth = Math.max(1, dpr);
						ctx.setLineDash(m.dash ? [5 * dpr, 4 * dpr] : []);
						ctx.beginPath();
						ctx.moveTo(x + 0.5, top);
						ctx.lineTo(x + 0.5, top + height);
						ctx.stroke();
						// The label runs down the line, so close events do not collide.
						if (lx > x + 3 * dpr) {
							// A leader from the line to its moved label.
							ctx.setLineDash([]);
							ctx.beginPath();
							ctx.moveTo(x + 0.5, top + 1);
							ctx.lineTo(lx + 4 * dpr, top + 1);
							ctx.stroke();
						}
						ctx.save();
						ctx.translate(lx, top + 3 * dpr);
						ctx.rotate(Math.PI / 2);
						// On a light ground, readable over the data.
						ctx.fillStyle = "rgba(255,255,255,0.75)";
						ctx.fillRect(-1, -11 * dpr, ctx.measureText(m.label).width + 2, 11 * dpr);
						ctx.fillStyle = m.color;
						ctx.fillText(m.label, 0, 0);
						ctx.restore();
					});
					ctx.restore();
				}]
			}
		};
	}

	// stacked turns the series of each stack into running sums, and returns
	// the bands that fill each stacked series down to the one below it.
	function stacked(chart) {
		var sums = {}, last = {}, values = [], bands = [];
		chart.series.forEach(function (s, i) {
			if (!s.stack) {
				values.push(s.values);
				return;
			}
			var acc = sums[s.stack] || (sums[s.stack] = chart.x.map(function () { return 0; }));
			values.push(s.values.map(function (v, k) {
				if (v == null) {
					return null;
				}
				acc[k] += v;
				return acc[k];
			}));
			if (last[s.stack] != null) {
				bands.push({ series: [i + 1, last[s.stack] + 1], fill: fillOf(s) });
			}
			last[s.stack] = i;
		});
		return { values: values, bands: bands };
	}

	function fillOf(s) {
		return s.color + (s.dash ? "22" : "99");
	}

	function fmt(v, unit) {
		if (v == null) {
			return "–";
		}
		var a = Math.abs(v);
		var s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
		return unit ? s + " " + unit : s;
	}

	function draw(chart, index) {
		var box = document.createElement("figure");
		box.className = "chart";
		box.id = "chart-" + chart.id;
		var title = document.createElement("figcaption");
		title.textContent = chart.title;
		box.appendChild(title);
		root.appendChild(box);
		if (!chart.x.length) {
			var none = document.createElement("p");
			none.className = "none";
			none.textContent = "No data.";
			box.appendChild(none);
		}
		var st = stacked(chart);
		var series = [{ label: "t", value: function (u, v) { return v == null ? "–" : fmt(v, "s"); } }];
		chart.series.forEach(function (s) {
			series.push({
				label: s.label,
				stroke: s.color,
				width: 1.5,
				dash: s.dash ? [6, 4] : undefined,
				fill: s.stack ? fillOf(s) : undefined,
				spanGaps: !s.stack,
				points: { show: chart.x.length <= 40, size: 4 },
				// Stacked series show their own value, not the running sum.
				value: function (u, v, si, i) { return i == null ? "–" : fmt(s.values[i], chart.unit); }
			});
		});
		var width = Math.max(600, root.clientWidth - 4);
		var opts = {
			width: width,
			height: 220,
			series: series,
			bands: st.bands,
			plugins: [markers()],
			cursor: { sync: { key: "cutover", setSeries: false } },
			legend: { live: true },
			scales: {
				x: { time: false, range: function () { return [data.xMin, data.xMax]; } },
				// From a little below zero, so that a line at zero shows.
				y: chart.log ? { distr: 3 } : { range: function (u, lo, hi) { var top = hi > 0 ? hi * 1.08 : 1; return [lo < 0 ? lo * 1.08 : -top / 40, top]; } }
			},
			axes: [
				{ label: index === data.charts.length - 1 ? "seconds from load start" : undefined, values: function (u, ticks) { return ticks.map(function (t) { return t + "s"; }); } },
				{ label: chart.unit, size: 60 }
			]
		};
		return new uPlot(opts, [chart.x].concat(st.values), box);
	}

	var began = performance.now();
	var plots = data.charts.map(draw);
	window.cutoverPlots = plots;
	// How long the charts took to draw, for the tests to report.
	window.cutoverDrawMs = performance.now() - began;
	window.addEventListener("resize", function () {
		var width = Math.max(600, root.clientWidth - 4);
		plots.forEach(function (p) { p.setSize({ width: width, height: 220 }); });
	});
})();
