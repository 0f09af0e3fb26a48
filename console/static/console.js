// 工作台: identifiers checked as they are typed (the server checks them again on saving).
// GB 11643-1999 居民身份证号码 (ISO 7064 MOD 11-2) and GB 32100-2015 统一社会信用代码 (MOD 31).
(function () {
  "use strict";
  var CITIZEN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CITIZEN_CHECK = "10X98765432";
  var CREDIT_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  function citizen(id) {
    if (!/^[0-9]{17}[0-9X]$/.test(id)) return "居民身份证号码应为18位：17位数字加1位数字或X";
    var total = 0;
    for (var i = 0; i < 17; i++) total += Number(id[i]) * CITIZEN_WEIGHTS[i];
    if (CITIZEN_CHECK[total % 11] !== id[17]) return "居民身份证号码校验位不正确，请核对";
    return "";
  }

  function credit(code) {
    if (code.length !== 18) return "统一社会信用代码应为18位";
    var total = 0;
    for (var i = 0; i < 17; i++) {
      var v = CREDIT_CHARSET.indexOf(code[i]);
      if (v < 0) return "统一社会信用代码含有不允许的字符“" + code[i] + "”";
      total += v * CREDIT_WEIGHTS[i];
    }
    if (CREDIT_CHARSET[(31 - (total % 31)) % 31] !== code[17]) return "统一社会信用代码校验位不正确，请核对";
    return "";
  }

  function check(input) {
    var form = input.form;
    var kind = form && form.querySelector("[name='payer.kind']");
    var value = input.value.trim().toUpperCase();
    var message = "";
    if (value) message = kind && kind.value === "person" ? citizen(value) : credit(value);
    input.setCustomValidity(message);
    var out = document.getElementById(input.id + "-check");
    if (out) {
      out.textContent = value ? (message || "校验通过") : "";
      out.className = "check " + (message ? "bad" : "good");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-identifier]");
    Array.prototype.forEach.call(inputs, function (input) {
      input.addEventListener("input", function () { check(input); });
      var kind = input.form && input.form.querySelector("[name='payer.kind']");
      if (kind) kind.addEventListener("change", function () { check(input); });
      if (input.value) check(input);
    });
  });
})();
