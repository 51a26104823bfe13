#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turns the Voice ID service model into C tables.

Two modes:

  gen_model.py --reduce IN_SERVICE_JSON OUT_JSON
      Copies the full AWS service model without its documentation, so the
      repository carries only the structure the build needs (metadata,
      operations, shapes and every constraint).

  gen_model.py MODEL_JSON OUT_C
      Writes src/api/model_gen.c: one static const table per shape and one
      row per operation, with the types of src/api/model.h.

Both outputs are deterministic: the same input gives the same bytes, so the
generated files can be committed and diffed. Only the standard library is
used, so any python3 runs it.
"""

import json
import os
import re
import sys


# Keys that only carry prose; everything else in the model is structure.
DOC_KEYS = ("documentation", "documentationUrl")

TYPES = {
    "structure": "MODEL_STRUCTURE",
    "list": "MODEL_LIST",
    "map": "MODEL_MAP",
    "string": "MODEL_STRING",
    "integer": "MODEL_INTEGER",
    "long": "MODEL_LONG",
    "boolean": "MODEL_BOOLEAN",
    "timestamp": "MODEL_TIMESTAMP",
    "float": "MODEL_FLOAT",
    "double": "MODEL_DOUBLE",
    "blob": "MODEL_BLOB",
}

# Room left for a string literal on a line of at most 80 columns after the
# deepest indentation the generator uses.
CHUNK = 56


class ModelError(Exception):
    pass


def strip_docs(obj):
    """Returns a copy of a dict without its documentation keys."""
    return {k: v for k, v in obj.items() if k not in DOC_KEYS}


def reduce_model(full):
    """Returns the structural part of a full service model."""
    out = {}
    for key, value in full.items():
        if key in DOC_KEYS:
            continue
        if key == "operations":
            value = {name: reduce_operation(op) for name, op in value.items()}
        elif key == "shapes":
            value = {name: reduce_shape(s) for name, s in value.items()}
        out[key] = value
    return out


def reduce_operation(op):
    out = strip_docs(op)
    for key in ("input", "output"):
        if key in out:
            out[key] = strip_docs(out[key])
    if "errors" in out:
        out["errors"] = [strip_docs(e) for e in out["errors"]]
    return out


def reduce_shape(shape):
    # Member names are data, not keys to strip, so walk by structure only.
    out = strip_docs(shape)
    if "members" in out:
        out["members"] = {name: strip_docs(m)
                          for name, m in out["members"].items()}
    for key in ("member", "key", "value"):
        if key in out:
            out[key] = strip_docs(out[key])
    return out


def c_ident(name):
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    return ident


def c_escape(text):
    """Escapes text for a C string literal, byte by byte in UTF-8.

    Non-ASCII bytes become three-digit octal escapes, which cannot swallow a
    following digit the way \\x escapes do; a '?' after a '?' is escaped so
    no trigraph forms under -std=c11.
    """
    pieces = []
    prev = ""
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch == "\\":
            piece = "\\\\"
        elif ch == '"':
            piece = '\\"'
        elif ch == "?" and prev == "?":
            piece = "\\?"
        elif 0x20 <= byte < 0x7F:
            piece = ch
        else:
            piece = "\\%03o" % byte
        pieces.append(piece)
        prev = ch
    return pieces


def c_string(text, indent, width=CHUNK):
    """Returns a C string literal, split into lines that fit 80 columns.

    'indent' is the column where continuation lines start; the first line
    is placed by the caller.
    """
    pieces = c_escape(text)
    chunks = []
    cur = ""
    for piece in pieces:
        if len(cur) + len(piece) > width:
            chunks.append(cur)
            cur = ""
        cur += piece
    chunks.append(cur)
    sep = "\n" + " " * indent
    return sep.join('"%s"' % c for c in chunks)


def int_bound(shape_name, key, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError("%s: %s is not a number" % (shape_name, key))
    if value != int(value):
        raise ModelError("%s: %s is not integral" % (shape_name, key))
    value = int(value)
    if not -(2 ** 63) <= value < 2 ** 63:
        raise ModelError("%s: %s is out of int64 range" % (shape_name, key))
    if value == -(2 ** 63):
        return "INT64_MIN"
    return "INT64_C(%d)" % value


class Generator:
    def __init__(self, model, model_path):
        self.model = model
        self.model_path = model_path
        self.shapes = model.get("shapes", {})
        self.operations = model.get("operations", {})
        self.idents = {}
        self.patterns = []
        self.pattern_index = {}
        self.lines = []
        self.check()

    def check(self):
        seen = {}
        for name in sorted(self.shapes):
            ident = c_ident(name)
            if ident in seen:
                raise ModelError("shapes %s and %s share the C name %s"
                                 % (seen[ident], name, ident))
            seen[ident] = name
            self.idents[name] = ident
        for name in sorted(self.shapes):
            shape = self.shapes[name]
            if shape.get("type") not in TYPES:
                raise ModelError("%s: unknown type %r"
                                 % (name, shape.get("type")))
            for ref in self.refs(shape):
                self.target(name, ref)
            for req in shape.get("required", []):
                if req not in shape.get("members", {}):
                    raise ModelError("%s: required %s is not a member"
                                     % (name, req))
            if "pattern" in shape:
                pattern = shape["pattern"]
                if pattern not in self.pattern_index:
                    self.pattern_index[pattern] = len(self.patterns)
                    self.patterns.append(pattern)
        for name in sorted(self.operations):
            op = self.operations[name]
            if op.get("name", name) != name:
                raise ModelError("operation %s is named %s"
                                 % (name, op.get("name")))
            for key in ("input", "output"):
                if key in op:
                    self.target(name, op[key])
            for err in op.get("errors", []):
                self.target(name, err)

    @staticmethod
    def refs(shape):
        for member in shape.get("members", {}).values():
            yield member
        for key in ("member", "key", "value"):
            if key in shape:
                yield shape[key]

    def target(self, where, ref):
        name = ref.get("shape")
        if name not in self.shapes:
            raise ModelError("%s refers to unknown shape %r" % (where, name))
        return name

    def shape_ref(self, name):
        return "&shape_%s" % self.idents[name]

    def emit(self, line=""):
        self.lines.append(line)

    def emit_decl(self, head, tail):
        """Emits a declaration, breaking after the type when too long."""
        if len(head) + 1 + len(tail) <= 80:
            self.emit("%s %s" % (head, tail))
        else:
            self.emit(head)
            self.emit(tail)

    def run(self):
        meta = self.model.get("metadata", {})
        self.emit_header(meta)
        self.emit_patterns()
        self.emit_forward()
        for name in sorted(self.shapes):
            self.emit_shape(name, self.shapes[name])
        self.emit_shape_index()
        self.emit_operations()
        return "\n".join(self.lines) + "\n"

    def emit_header(self, meta):
        self.emit("/* SPDX-License-Identifier: Apache-2.0 */")
        self.emit("/*")
        self.emit(" * generated by tools/gen_model.py from %s;"
                  % self.model_path)
        self.emit(" * do not edit.")
        self.emit(" *")
        self.emit(" * Every shape and operation of the service model as const "
                  "tables. Shapes,")
        self.emit(" * operations and members appear in strcmp order of their "
                  "names so the")
        self.emit(" * lookups in model.c can bisect; enum values keep the "
                  "model's order.")
        self.emit(" */")
        self.emit('#include "api/model.h"')
        self.emit()
        self.emit()
        for cname, key in (("model_target_prefix", "targetPrefix"),
                           ("model_api_version", "apiVersion"),
                           ("model_signing_name", "signingName"),
                           ("model_service_id", "serviceId")):
            if key not in meta:
                raise ModelError("metadata lacks %s" % key)
            self.emit("const char %s[] = %s;"
                      % (cname, c_string(meta[key], 4)))
        self.emit()

    def emit_patterns(self):
        # Named arrays rather than literals in the table: shapes share the
        # text, and split literals stay out of an array initializer.
        for i, pattern in enumerate(self.patterns):
            self.emit("static const char pattern_%d[] =" % i)
            self.emit("    %s;" % c_string(pattern, 4, 72))
        self.emit()
        self.emit("const char *const model_patterns[] = {")
        for i in range(len(self.patterns)):
            self.emit("    pattern_%d," % i)
        self.emit("};")
        self.emit("const size_t model_n_patterns = %d;" % len(self.patterns))
        self.emit()

    def emit_forward(self):
        # Tentative definitions let members point at shapes defined later.
        for name in sorted(self.shapes):
            self.emit_decl("static const struct model_shape",
                           "shape_%s;" % self.idents[name])
        self.emit()

    def emit_shape(self, name, shape):
        ident = self.idents[name]
        members = shape.get("members", {})
        required = set(shape.get("required", []))
        enum = shape.get("enum", [])

        self.emit()
        if enum:
            self.emit_decl("static const char *const",
                           "enum_%s[] = {" % ident)
            for value in enum:
                self.emit("    %s," % c_string(value, 4))
            self.emit("};")
            self.emit()
        if members:
            self.emit_decl("static const struct model_member",
                           "members_%s[] = {" % ident)
            for mname in sorted(members):
                member = members[mname]
                self.emit("    {")
                self.emit("        .name = %s," % c_string(mname, 8))
                self.emit("        .shape = %s,"
                          % self.shape_ref(member["shape"]))
                if mname in required:
                    self.emit("        .required = true,")
                if member.get("idempotencyToken"):
                    self.emit("        .idempotency_token = true,")
                self.emit("    },")
            self.emit("};")
            self.emit()

        self.emit_decl("static const struct model_shape",
                       "shape_%s = {" % ident)
        self.emit("    .name = %s," % c_string(name, 4))
        self.emit("    .type = %s," % TYPES[shape["type"]])
        for key in ("min", "max"):
            if key in shape:
                self.emit("    .has_%s = true," % key)
                self.emit("    .%s = %s,"
                          % (key, int_bound(name, key, shape[key])))
        if "pattern" in shape:
            pattern = shape["pattern"]
            index = self.pattern_index[pattern]
            self.emit("    .pattern = pattern_%d," % index)
            self.emit("    .pattern_index = %d," % index)
        if enum:
            self.emit("    .enum_values = enum_%s," % ident)
            self.emit("    .n_enum = %d," % len(enum))
        if members:
            self.emit("    .members = members_%s," % ident)
            self.emit("    .n_members = %d," % len(members))
        for key in ("member", "key", "value"):
            if key in shape:
                self.emit("    .%s = %s,"
                          % (key, self.shape_ref(shape[key]["shape"])))
        for key in ("exception", "fault", "sensitive"):
            if shape.get(key):
                self.emit("    .%s = true," % key)
        self.emit("};")

    def emit_shape_index(self):
        self.emit()
        self.emit("const struct model_shape *const model_shapes[] = {")
        for name in sorted(self.shapes):
            self.emit("    %s," % self.shape_ref(name))
        self.emit("};")
        self.emit("const size_t model_n_shapes = %d;" % len(self.shapes))

    def emit_operations(self):
        for name in sorted(self.operations):
            errors = self.operations[name].get("errors", [])
            if not errors:
                continue
            self.emit()
            self.emit_decl("static const struct model_shape *const",
                           "errors_%s[] = {" % c_ident(name))
            for err in errors:
                self.emit("    %s," % self.shape_ref(err["shape"]))
            self.emit("};")

        self.emit()
        self.emit("const struct model_operation model_operations[] = {")
        for name in sorted(self.operations):
            op = self.operations[name]
            self.emit("    {")
            self.emit("        .name = %s," % c_string(name, 8))
            for key in ("input", "output"):
                if key in op:
                    self.emit("        .%s = %s,"
                              % (key, self.shape_ref(op[key]["shape"])))
            if op.get("errors"):
                self.emit("        .errors = errors_%s," % c_ident(name))
                self.emit("        .n_errors = %d," % len(op["errors"]))
            if op.get("idempotent"):
                self.emit("        .idempotent = true,")
            self.emit("    },")
        self.emit("};")
        self.emit("const size_t model_n_operations = %d;"
                  % len(self.operations))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write(path, text):
    # Write through a temporary name so a failed run leaves no half file.
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "--reduce":
            reduced = reduce_model(load(argv[2]))
            text = json.dumps(reduced, indent=1, sort_keys=True,
                              ensure_ascii=True) + "\n"
            write(argv[3], text)
        elif len(argv) == 3 and not argv[1].startswith("-"):
            text = Generator(load(argv[1]), argv[1]).run()
            write(argv[2], text)
        else:
            sys.stderr.write("usage: gen_model.py --reduce IN_JSON OUT_JSON\n"
                             "       gen_model.py MODEL_JSON OUT_C\n")
            return 2
    except (OSError, ValueError, KeyError, ModelError) as e:
        sys.stderr.write("gen_model.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
