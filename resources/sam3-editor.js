// Editor-side validators shared by every nodes/sam3-*.html (served at resources/@sam3-flow/node-red-sam3/).
// sam3-model.html, the package's first node set, loads it once, before the other node types register.
// Validators take (value, opt): Node-RED 3.1+ passes opt and shows a returned string as the field's tooltip.
window.SAM3_EDITOR = window.SAM3_EDITOR || (function () {
    var ENV = /^\$\{[^}]+\}$/;

    function text(v) {
        return String(v === undefined || v === null ? "" : v).trim();
    }

    /** Empty or a ${ENV_VAR}: the runtime fills these in, so the editor accepts them. */
    function deferred(s) {
        return s === "" || ENV.test(s);
    }

    /** Why a field is invalid, where the editor shows it (3.1+ passes opt); Node-RED 3.0 takes false. */
    function reason(opt, message) {
        return opt ? message : false;
    }

    function wholeNumber(n) {
        return isFinite(n) && Math.floor(n) === n && n >= 0;
    }

    function mib(bytes) {
        return (bytes / 1048576).toFixed(1) + " MiB";
    }

    /** What the one fetch is doing, in words. */
    function fetchText(f) {
        if (f.state === "running") {
            var file = f.file ? " file " + (f.fileIndex + 1) + "/" + f.files + " " + f.file : "";
            var bytes = f.bytes ? ": " + mib(f.bytes) + (f.total ? " of " + mib(f.total) : "") : "";
            return "fetching " + f.preset + " (" + f.dtype + ")" + file + bytes;
        }
        if (f.state === "done") { return f.preset + " installed"; }
        if (f.state === "cancelled") { return "fetching " + f.preset + " was cancelled (fetch again to resume)"; }
        if (f.state === "failed") { return "fetching " + f.preset + " failed: " + f.error.message + " (" + f.error.code + ")"; }
        return "";
    }

    /**
     * A field read by one of core's own readers (`reader` finds it in the script sam3/prompts.js sets up): valid
     * when it reads, else its message. If the script did not load, the node checks the field when it runs.
     */
    function byCore(reader) {
        return function (v, opt) {
            var s = text(v);
            var read = reader();
            if (deferred(s) || !read) { return true; }
            try {
                read(s);
                return true;
            } catch (e) {
                return reason(opt, e.message);
            }
        };
    }

    /**
     * The sam3-model dialog's Packs list (the runtime's sam3/presets): each preset's state, "use" to choose it and
     * "fetch" to download it, with the runtime's one fetch polled for its progress while the dialog is open.
     */
    function presetPicker() {
        var timer = null;
        var table, status, modelInput;

        function failure(xhr) {
            var body = xhr.responseJSON;
            return body && body.message ? body.message + " (" + body.code + ")" : "the runtime did not answer (" + xhr.status + ")";
        }

        function showFetch(f) {
            status.empty();
            if (f.state === "idle") { return; }
            $("<div>").addClass("sam3-fetch-text").text(fetchText(f)).appendTo(status);
            if (f.state === "running") {
                var bar = $("<progress>").addClass("sam3-fetch-progress").appendTo(status);
                if (f.total) { bar.attr({ max: f.total, value: f.bytes }); }
                $("<button>").addClass("red-ui-button red-ui-button-small").attr("type", "button").text("cancel").appendTo(status).on("click", function () {
                    $.ajax({ url: "sam3/presets/fetch/cancel", type: "POST" });
                });
            }
        }

        function poll(f) {
            clearTimeout(timer);
            showFetch(f);
            if (f.state === "running") {
                timer = setTimeout(function () {
                    $.getJSON("sam3/presets/fetch").done(function (next) {
                        // the list changes once a fetch ends
                        if (next.state !== "running") { load(); } else { poll(next); }
                    }).fail(function (xhr) { status.text(failure(xhr)); });
                }, 500);
            }
        }

        function row(p) {
            var size = p.dtypes.length && p.dtypes[0].bytes ? ", " + mib(p.dtypes[0].bytes) : "";
            var tr = $("<tr>").attr("data-preset", p.name);
            $("<td>").append($("<code>").text(p.name)).append($("<div>").addClass("form-tips").text(p.capabilities)).appendTo(tr);
            $("<td>").addClass("sam3-preset-state").text(p.state + (p.state === "available" ? size : "")).appendTo(tr);
            var actions = $("<td>").appendTo(tr);
            if (p.state !== "available") {
                $("<button>").addClass("red-ui-button red-ui-button-small sam3-preset-use").attr("type", "button").text("use").appendTo(actions).on("click", function () {
                    modelInput.val(p.name).trigger("change");
                });
            } else {
                $("<button>").addClass("red-ui-button red-ui-button-small sam3-preset-fetch").attr("type", "button").text("fetch").appendTo(actions).on("click", function () {
                    $.ajax({ url: "sam3/presets/fetch", type: "POST", contentType: "application/json", data: JSON.stringify({ preset: p.name }), dataType: "json" })
                        .done(poll)
                        .fail(function (xhr) { status.text(failure(xhr)); });
                });
            }
            return tr;
        }

        function load() {
            $.getJSON("sam3/presets").done(function (list) {
                table.empty();
                list.presets.forEach(function (p) { table.append(row(p)); });
                poll(list.fetch);
            }).fail(function (xhr) {
                table.empty().append($("<tr>").append($("<td>").text(failure(xhr))));
            });
        }

        return {
            open: function (tableEl, statusEl, input) {
                table = tableEl;
                status = statusEl;
                modelInput = input;
                load();
            },
            close: function () {
                clearTimeout(timer);
                timer = null;
            }
        };
    }

    return {
        text: text,

        /** A number of at least min and (unless undefined) at most max, whole if integer. */
        number: function (min, max, integer) {
            var wanted = "must be " + (integer ? "a whole number" : "a number") + (max === undefined ? " of at least " + min : " from " + min + " to " + max);
            return function (v, opt) {
                var s = text(v);
                if (deferred(s)) { return true; }
                var n = Number(s);
                var valid = isFinite(n) && (!integer || Math.floor(n) === n) && n >= min && (max === undefined || n <= max);
                return valid || reason(opt, wanted);
            };
        },

        /**
         * A prompt field read by core's own grammar (window.SAM3_PROMPTS, served by the sam3-model node at
         * sam3/prompts.js): `parse` names its reader (parsePointList, parseBoxList, parseBoxText). Invalid: the
         * grammar's message, which Node-RED 3.1+ shows on the field (it passes `opt`; 3.0 takes false).
         */
        prompt: function (parse) {
            return byCore(function () { return window.SAM3_PROMPTS && window.SAM3_PROMPTS[parse]; });
        },

        /** The model's Engine: empty or "local", else a Triton server's URL, read by core's own rule (served alike). */
        engine: byCore(function () { return window.SAM3_ENGINE_URL && window.SAM3_ENGINE_URL.parseEngine; }),

        /** The folder for file paths from messages: needed when they are allowed (read from the open dialog if any). */
        pathFolder: function (v, opt) {
            var select = $("#node-input-paths");
            var allowed = select.length ? select.val() === "folder" : this.paths === "folder";
            return !allowed || text(v) !== "" || reason(opt, "name the folder that file paths from messages must stay inside");
        },

        /** The input row (a message property, or a path typed here) and the "file paths from messages" rows. */
        prepareInput: function (node) {
            if (node.property === undefined) {
                $("#node-input-property").val("payload");
            }
            $("#node-input-property").typedInput({ default: "msg", types: ["msg", "str"], typeField: "#node-input-propertyType" });
            $("#node-input-paths").on("change", function () {
                $(".node-sam3-path-folder").toggle($(this).val() === "folder");
            }).val(node.paths || "off").trigger("change");
        },

        /** Object ids: whole numbers of at least 0, separated by commas. */
        idList: function (v, opt) {
            var s = text(v);
            if (deferred(s)) { return true; }
            var valid = s.split(",").map(function (id) { return id.trim(); }).filter(Boolean).every(function (id) {
                return wholeNumber(Number(id));
            });
            return valid || reason(opt, "object ids are whole numbers of at least 0, separated by commas");
        },

        presets: presetPicker()
    };
})();
