// Editor-side validators shared by every nodes/sam3-*.html (served at resources/@sam3-flow/node-red-sam3/).
// Each .html includes this file, so it may run once per node type: define the global only once.
window.SAM3_EDITOR = window.SAM3_EDITOR || (function () {
    var ENV = /^\$\{[^}]+\}$/;

    function text(v) {
        return String(v === undefined || v === null ? "" : v).trim();
    }

    /** Empty or a ${ENV_VAR}: the runtime fills these in, so the editor accepts them. */
    function deferred(s) {
        return s === "" || ENV.test(s);
    }

    function wholeNumber(n) {
        return isFinite(n) && Math.floor(n) === n && n >= 0;
    }

    return {
        text: text,

        /** A number from min to max (either may be undefined), whole if integer. */
        number: function (min, max, integer) {
            return function (v) {
                var s = text(v);
                if (deferred(s)) { return true; }
                var n = Number(s);
                if (!isFinite(n) || (integer && Math.floor(n) !== n)) { return false; }
                return (min === undefined || n >= min) && (max === undefined || n <= max);
            };
        },

        /**
         * A prompt field read by core's own grammar (window.SAM3_PROMPTS, served by the sam3-model node at
         * sam3/prompts.js): `parse` names its reader (parsePointList, parseBoxList, parseBoxText). Invalid: the
         * grammar's message, which Node-RED 3.1+ shows on the field (it passes `opt`; 3.0 takes false).
         */
        prompt: function (parse) {
            return function (v, opt) {
                var s = text(v);
                var grammar = window.SAM3_PROMPTS;
                // if the grammar did not load, the node checks the field when it runs
                if (deferred(s) || !grammar) { return true; }
                try {
                    grammar[parse](s);
                    return true;
                } catch (e) {
                    return opt ? e.message : false;
                }
            };
        },

        /** The folder for file paths from messages: needed when they are allowed (read from the open dialog if any). */
        pathFolder: function (v) {
            var select = $("#node-input-paths");
            var allowed = select.length ? select.val() === "folder" : this.paths === "folder";
            return !allowed || text(v) !== "";
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
        idList: function (v) {
            var s = text(v);
            if (deferred(s)) { return true; }
            return s.split(",").map(function (id) { return id.trim(); }).filter(Boolean).every(function (id) {
                return wholeNumber(Number(id));
            });
        }
    };
})();
