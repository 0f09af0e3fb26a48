// 督办: the department statistics as charts (ECharts, vendored), from the page's own JSON.
// Every bar and point opens the list of cases behind it, as the table's numbers do.
(function () {
  "use strict";
  var COLORS = ["#0b5cad", "#1a7f37", "#57a3e6", "#bf8700", "#b3261e"];
  var FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif';

  function open(params) {
    if (params.data && params.data.url) window.location.assign(params.data.url);
  }

  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "canvas", locale: "ZH" });
    c.setOption(Object.assign({
      color: COLORS,
      textStyle: { fontFamily: FONT },
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 28 }
    }, option));
    c.on("click", open);
    c.getZr().on("mousemove", function (e) {
      c.getZr().setCursorStyle(e.target ? "pointer" : "default");
    });
    window.addEventListener("resize", function () { c.resize(); });
    return c;
  }

  function series(list, type, extra) {
    return list.map(function (s) {
      return Object.assign({ name: s.name, type: type, data: s.data }, extra || {});
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var node = document.getElementById("oversight-data");
    if (!node) return;
    var data = JSON.parse(node.textContent);
    chart("chart-departments", {
      xAxis: { type: "category", data: data.departments },
      yAxis: { type: "value", minInterval: 1, name: "件" },
      series: series(data.bars, "bar", { barMaxWidth: 28, label: { show: true, position: "top", fontSize: 11 } })
    });
    chart("chart-rates", {
      xAxis: { type: "category", data: data.departments },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
      series: series(data.rates, "bar", { barMaxWidth: 36, label: { show: true, position: "top", fontSize: 11, formatter: function (p) { return p.value == null ? "—" : p.value + "%"; } } })
    });
    chart("chart-months", {
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", minInterval: 1, name: "件" },
      tooltip: { trigger: "axis" },
      series: series(data.trends, "line", {
        symbolSize: 8,
        label: { show: true, fontSize: 10, formatter: function (p) { return p.value ? p.value : ""; } }
      })
    });
  });
})();
