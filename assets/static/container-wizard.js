// The container create wizard: shows the hardware specs and GPU counts of
// the chosen GPU type, the public or custom images as chosen, the versions
// and login of the chosen image, and
// updates the hourly cost and the shared memory split as choices change.
// The server checks everything again; without this script every option is
// shown and the cost is updated at each step.
(function () {
  "use strict";
  var form = document.querySelector("form.wizard");
  if (!form) { return; }

  function checked(name) {
    return form.querySelector("input[name='" + name + "']:checked");
  }

  function milliText(milli) {
    var whole = Math.floor(milli / 1000);
    var fraction = String(milli % 1000).padStart(3, "0").replace(/0+$/, "");
    return fraction ? whole + "." + fraction : String(whole);
  }

  function gpuUnitsMilli(gpu, count) {
    if (!gpu || !count) { return 0; }
    if (gpu.dataset.shared === "1") {
      var memory = Math.max(1, Number(gpu.dataset.memory));
      return Math.ceil(count * 1000 / memory);
    }
    return count * 1000;
  }

  function filterGpu() {
    var gpu = checked("gpu_type");
    var type = gpu ? gpu.value : "";
    form.querySelectorAll("tr[data-gpu-type]").forEach(function (row) {
      var show = row.dataset.gpuType === type;
      row.hidden = !show;
      var radio = row.querySelector("input[type=radio]");
      if (!show && radio && radio.checked) { radio.checked = false; }
    });
    var count = form.querySelector("select[name=gpu_count]");
    if (count) {
      count.disabled = type === "";
      Array.prototype.forEach.call(count.options, function (option) {
        var fits = option.dataset.types.split(" ").indexOf(type) >= 0;
        option.hidden = !fits;
        if (!fits && option.selected) { option.selected = false; }
      });
    }
  }

  function filterImage() {
    var image = form.querySelector("select[name=image]");
    if (!image) { return; }
    var chosen = image.options[image.selectedIndex];
    var id = image.value;
    form.querySelectorAll("select[name=version] option").forEach(function (option) {
      var fits = option.dataset.image === id;
      option.hidden = !fits;
      if (!fits && option.selected) { option.selected = false; }
    });
    var source = checked("image_source");
    var custom = source !== null && source.value === "custom";
    form.querySelectorAll(".wizard-source").forEach(function (part) {
      part.hidden = source !== null && part.dataset.source !== source.value;
    });
    var login = chosen && chosen.dataset.sshLogin ? chosen.dataset.sshLogin : "";
    if (custom) {
      var customImage = checked("custom_image");
      login = customImage ? customImage.dataset.sshLogin : "";
    }
    form.querySelectorAll(".wizard-login").forEach(function (part) {
      part.hidden = login !== "" && part.dataset.login !== login;
    });
    var pair = form.querySelector("select[name=key_pair]");
    var paste = form.querySelector(".wizard-paste");
    if (pair && paste) { paste.hidden = pair.value !== ""; }
  }

  function updateCost() {
    var out = document.getElementById("wizard-cost-value");
    var box = document.getElementById("wizard-cost");
    if (!out || !box) { return; }
    var gpu = checked("gpu_type");
    var spec = checked("spec");
    var countSelect = form.querySelector("select[name=gpu_count]");
    var count = countSelect && !countSelect.disabled ? Number(countSelect.value) : 0;
    var milli = spec ? Number(spec.dataset.price) : 0;
    if (gpu && gpu.value !== "") {
      milli += Math.floor(Number(gpu.dataset.price) * gpuUnitsMilli(gpu, count) / 1000);
    }
    out.textContent = box.dataset.currency + " " + milliText(milli);
    var split = document.getElementById("wizard-shm-split");
    var shm = form.querySelector("input[name=shm]");
    var size = form.querySelector("input[name=shm_mb]");
    if (split && shm && size) {
      var ram = spec ? Number(spec.dataset.ram) : 0;
      if (shm.checked && ram > 0) {
        var shared = Math.min(100, Math.floor(Number(size.value) * 100 / ram));
        split.textContent = split.dataset.template
          .replace("{shared}", String(shared))
          .replace("{system}", String(100 - shared));
      } else {
        split.textContent = "";
      }
    }
  }

  form.addEventListener("change", function () {
    filterGpu();
    filterImage();
    updateCost();
  });
  form.addEventListener("input", updateCost);
  filterGpu();
  filterImage();
})();
