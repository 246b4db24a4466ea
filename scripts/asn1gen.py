#!/usr/bin/env python3
"""Generate sgp32's typed ASN.1 structs and codec tables from the schema.

Reads the SGP.32 v1.2 and SGP.22 modules (plus the one PEDefinitions type
they import) and writes:
  include/sgp32/asn1_types.h  - one C struct per type, named values, tag constants
  lib/asn1/asn1_types.c       - const descriptors driving lib/asn1/schema_codec.c

The schema stays the single source of truth: tags follow X.680 automatic
tagging here, mechanically, instead of being typed by hand.

Usage: scripts/asn1gen.py SPEC_ASN1_DIR OUT_HEADER OUT_SOURCE
"""
import re
import sys

MODULES = ["RSPDefinitions.asn", "SGP32Definitions.asn"]
# Imported from PEDefinitions / PKIX: only these are needed.
PE_TYPES = {"UICCCapability"}
PKIX_OPAQUE = {"Certificate", "CertificateList", "SubjectPublicKeyInfo"}
PKIX_OCTETS = {"SubjectKeyIdentifier"}
SKIP_TYPES = {"ExpirationDate", "TotalPartialCrlNumber", "PartialCrlNumber", "SegmentedCrlList"}

UNIVERSAL = {
    "BOOLEAN": 0x01, "INTEGER": 0x02, "BIT_STRING": 0x03, "NAMED_BITS": 0x03, "OCTET_STRING": 0x04,
    "NULL": 0x05, "OBJECT_ID": 0x06, "UTF8_STRING": 0x0C, "SEQUENCE": 0x30, "SEQUENCE_OF": 0x30,
    "OPAQUE": 0x30,
}
CONSTRUCTED = {"SEQUENCE", "SEQUENCE_OF", "CHOICE", "ANY", "OPAQUE"}
C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
              "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
              "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
              "volatile", "while", "bool", "true", "false"}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for line in text.splitlines():
        # "--" starts a comment that ends at the next "--" or the end of the line.
        parts = line.split("--")
        out.append(" ".join(parts[0::2]))
    return "\n".join(out)


TOKEN = re.compile(r"::=|\.\.\.|\.\.|[{}\[\](),;|.]|&?[A-Za-z][A-Za-z0-9-]*|-?\d+|\"[^\"]*\"")


def tokenize(text):
    return TOKEN.findall(strip_comments(text))


class Type:
    def __init__(self, kind, **kw):
        self.kind = kind            # SEQUENCE, CHOICE, SEQUENCE_OF, INTEGER, ..., REF
        self.tag = kw.get("tag")    # (class, number) textual tag or None
        self.fields = kw.get("fields", [])
        self.element = kw.get("element")
        self.named = kw.get("named", [])
        self.size = kw.get("size")
        self.ref = kw.get("ref")


class Field:
    def __init__(self, name, type_, optional=False, default=None):
        self.name, self.type, self.optional, self.default = name, type_, optional, default


class Parser:
    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def take(self, expect=None):
        tok = self.t[self.i]
        if expect is not None and tok != expect:
            raise SyntaxError("expected %r, got %r near %r" % (expect, tok, self.t[max(0, self.i - 8):self.i + 4]))
        self.i += 1
        return tok

    def skip_balanced(self, open_, close):
        depth = 0
        while True:
            tok = self.take()
            if tok == open_:
                depth += 1
            elif tok == close:
                depth -= 1
                if depth == 0:
                    return

    def module(self):
        while self.take() != "BEGIN":
            pass
        if self.peek() == "IMPORTS":
            while self.take() != ";":
                pass
        types = {}
        while self.peek() != "END":
            name = self.take()
            if self.peek() != "::=":  # value assignment: name TYPE ::= value
                while self.take() != "::=":
                    pass
                if self.peek() == "{":
                    self.skip_balanced("{", "}")
                else:
                    self.take()
                continue
            self.take("::=")
            if self.peek() == "CLASS":
                self.take()
                self.skip_balanced("{", "}")
                continue
            types[name] = self.type_()
        return types

    def size_constraint(self):
        """Parse '(' ... ')' and return (lo, hi) for a SIZE constraint, else None."""
        start = self.i
        self.skip_balanced("(", ")")
        toks = self.t[start:self.i]
        if "SIZE" not in toks:
            return None
        nums = [int(x) for x in toks if re.fullmatch(r"-?\d+", x)]
        if len(nums) == 1:
            return (nums[0], nums[0])
        return (nums[0], nums[1])

    def named_list(self):
        self.take("{")
        named = []
        while self.peek() != "}":
            n = self.take()
            self.take("(")
            v = int(self.take())
            self.take(")")
            named.append((n, v))
            if self.peek() == ",":
                self.take()
        self.take("}")
        return named

    def components(self):
        self.take("{")
        fields = []
        while self.peek() != "}":
            if self.peek() == "...":
                self.take()
            else:
                name = self.take()
                ftype = self.type_()
                optional, default = False, None
                if self.peek() == "OPTIONAL":
                    self.take()
                    optional = True
                elif self.peek() == "DEFAULT":
                    self.take()
                    default = self.take()
                fields.append(Field(name, ftype, optional, default))
            if self.peek() == ",":
                self.take()
        self.take("}")
        return fields

    def type_(self):
        tag = None
        if self.peek() == "[":
            self.take()
            cls = "CONTEXT"
            if self.peek() in ("APPLICATION", "PRIVATE", "UNIVERSAL"):
                cls = self.take()
            tag = (cls, int(self.take()))
            self.take("]")
            if self.peek() in ("IMPLICIT", "EXPLICIT"):
                if self.take() == "EXPLICIT":
                    raise SyntaxError("EXPLICIT tags are not used by these modules")
        tok = self.take()
        size = None
        if tok in ("SEQUENCE", "SET"):
            if self.peek() == "{":
                t = Type("SEQUENCE", fields=self.components())
            else:
                if self.peek() == "(":
                    size = self.size_constraint()
                elif self.peek() == "SIZE":
                    self.take()
                    self.i -= 1
                    self.t[self.i] = "("  # treat SIZE(..) as (SIZE(..)) below
                    raise SyntaxError("bare SIZE before OF is not supported")
                self.take("OF")
                t = Type("SEQUENCE_OF", element=self.type_(), size=size)
        elif tok == "CHOICE":
            t = Type("CHOICE", fields=self.components())
        elif tok == "INTEGER":
            t = Type("INTEGER", named=self.named_list() if self.peek() == "{" else [])
        elif tok == "BIT":
            self.take("STRING")
            if self.peek() == "{":
                t = Type("NAMED_BITS", named=self.named_list())
            else:
                t = Type("BIT_STRING")
        elif tok == "OCTET":
            self.take("STRING")
            t = Type("OCTET_STRING")
        elif tok == "UTF8String":
            t = Type("UTF8_STRING")
        elif tok == "BOOLEAN":
            t = Type("BOOLEAN")
        elif tok == "NULL":
            t = Type("NULL")
        elif tok == "OBJECT":
            self.take("IDENTIFIER")
            t = Type("OBJECT_ID")
        elif tok == "OPENTYPE":
            self.take(".")
            member = self.take()
            t = Type("OBJECT_ID" if member == "&typeId" else "ANY")
        else:
            t = Type("REF", ref=tok)
        while self.peek() == "(":
            s = self.size_constraint()
            if s:
                size = s
        if size and t.kind != "SEQUENCE_OF":
            t.size = size
        t.tag = tag
        return t


def snake(name):
    s = name.replace("-", "_")
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", s)
    s = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", s)
    s = s.lower()
    s = re.sub(r"_+", "_", s)
    return s + "_" if s in C_KEYWORDS else s


def tag_value(cls, number, constructed):
    first = {"UNIVERSAL": 0x00, "APPLICATION": 0x40, "CONTEXT": 0x80, "PRIVATE": 0xC0}[cls]
    if constructed:
        first |= 0x20
    if number < 31:
        return first | number
    septets = []
    n = number
    while True:
        septets.insert(0, n & 0x7F)
        n >>= 7
        if not n:
            break
    value = first | 0x1F
    for i, s in enumerate(septets):
        value = value << 8 | s | (0x80 if i < len(septets) - 1 else 0)
    return value


class Desc:
    """A resolved type ready for emission: one C type and one descriptor."""

    def __init__(self, cname, schema_name, kind):
        self.cname, self.schema_name, self.kind = cname, schema_name, kind
        self.tag = 0
        self.fields = []        # list of (Field, Desc, wire_tag)
        self.element = None
        self.named = []
        self.size = None
        self.ctype = None       # C type spelling
        self.alias_of = None    # named alias of another struct type
        self.emitted = False


class Generator:
    def __init__(self, types):
        self.types = types
        self.descs = {}         # named type -> Desc
        self.order = []         # all Descs in creation order
        self.shared = {}        # plain builtin kinds -> Desc

    def named_type(self, name):
        if name in PKIX_OPAQUE:
            return Type("OPAQUE")
        if name in PKIX_OCTETS:
            return Type("OCTET_STRING")
        if name not in self.types:
            raise KeyError("unknown type " + name)
        return self.types[name]

    def outer_tag(self, t, kind):
        if t.tag:
            return tag_value(t.tag[0], t.tag[1], kind in CONSTRUCTED)
        if kind in ("CHOICE", "ANY"):
            return 0
        return UNIVERSAL[kind]

    def builtin(self, kind):
        if kind not in self.shared:
            d = Desc("sgp32_type_" + kind.lower(), kind.replace("_", " "), kind)
            d.tag = UNIVERSAL.get(kind, 0)
            d.ctype = self.scalar_ctype(kind)
            self.shared[kind] = d
            self.order.append(d)
        return self.shared[kind]

    @staticmethod
    def scalar_ctype(kind):
        return {"INTEGER": "int64_t", "BOOLEAN": "bool", "NULL": "bool", "NAMED_BITS": "uint32_t"}.get(
            kind, "sgp32_bytes")

    def named(self, name):
        if name in self.descs:
            return self.descs[name]
        t = self.named_type(name)
        d = self.build(t, snake(name), name, named=True)
        self.descs[name] = d
        return d

    def build(self, t, cbase, schema_name, named=False):
        """Build the Desc for type t. Plain untagged builtins share one descriptor."""
        if t.kind == "REF":
            base = self.named(t.ref) if (t.ref in self.types or t.ref in PKIX_OPAQUE or t.ref in PKIX_OCTETS) \
                else None
            if base is None:
                raise KeyError("unknown type " + t.ref)
            if not named and not t.tag:
                return base
            # A named alias, or a re-tagged reference used as an element type.
            d = Desc("sgp32_type_" + cbase, schema_name, base.kind)
            d.tag = self.outer_tag(t, base.kind) if t.tag else base.tag
            d.fields, d.element, d.named, d.size = base.fields, base.element, base.named, base.size
            d.ctype = base.ctype
            d.alias_of = base
            d.fields_ref = base
            self.order.append(d)
            return d
        kind = t.kind
        plain = not t.tag and not t.named and not t.size and kind not in ("SEQUENCE", "CHOICE", "SEQUENCE_OF")
        if plain and not named:
            return self.builtin(kind)
        d = Desc("sgp32_type_" + cbase, schema_name, kind)
        d.tag = self.outer_tag(t, kind)
        d.named = t.named
        d.size = t.size
        d.cbase = cbase
        self.order.append(d)
        if kind in ("SEQUENCE", "CHOICE"):
            d.ctype = "sgp32_" + cbase
            automatic = not any(f.type.tag for f in t.fields)
            for index, f in enumerate(t.fields):
                ft = f.type
                tag = ("CONTEXT", index) if automatic else ft.tag
                if ft.kind == "REF":
                    fd = self.named(ft.ref)
                else:
                    # The field carries the tag; its inline type is built untagged (shared when plain).
                    bare = Type(ft.kind, fields=ft.fields, element=ft.element, named=ft.named, size=ft.size)
                    fd = self.build(bare, cbase + "_" + snake(f.name).rstrip("_"), schema_name + "." + f.name)
                kind_of_field = (fd.alias_of or fd).kind
                wire = tag_value(tag[0], tag[1], kind_of_field in CONSTRUCTED) if tag else fd.tag
                d.fields.append((f, fd, wire))
        elif kind == "SEQUENCE_OF":
            et = t.element
            d.element = self.build(et, cbase + "_item", schema_name + ".item")
            d.ctype = None  # emitted as a list struct
        else:
            d.ctype = self.scalar_ctype(kind)
        return d

    # ------------------------------------------------------------ emission
    def run(self):
        names = [n for n in self.types if n not in SKIP_TYPES and (n in self.module_types)]
        for n in names:
            self.named(n)
        return names

    @staticmethod
    def upper(cname):
        return cname.upper()

    def list_ctype(self, d):
        e = d.element
        return "struct { %s *items; size_t count; }" % self.value_ctype(e)

    def value_ctype(self, d):
        if d.kind == "SEQUENCE_OF":
            if getattr(d, "typedef_name", None):
                return d.typedef_name
            return self.list_ctype(d)
        if d.kind in ("SEQUENCE", "CHOICE"):
            return d.ctype
        return self.scalar_ctype(d.kind)

    def emit(self, names, header_path, source_path):
        # Named SEQUENCE OF types get a typedef so they can be referred to by name.
        for n in names:
            d = self.descs[n]
            if d.kind == "SEQUENCE_OF" and not d.alias_of:
                d.typedef_name = "sgp32_" + snake(n)
        structs = [d for d in self.order if d.kind in ("SEQUENCE", "CHOICE") and not d.alias_of]
        h = []
        h.append("/* Generated by scripts/asn1gen.py from shared/spec/asn1 (SGP.32 v1.2, SGP.22). Do not edit. */")
        h.append("#ifndef SGP32_ASN1_TYPES_H\n#define SGP32_ASN1_TYPES_H\n")
        h.append('#include "sgp32/asn1.h"\n')
        h.append("/* Tags of the named types (as on the wire). */")
        for n in names:
            d = self.descs[n]
            if d.tag and d.tag > 0xFF or (d.tag and d.tag & 0xC0):
                h.append("#define SGP32_TAG_%s 0x%Xu" % (snake(n).rstrip("_").upper(), d.tag))
        h.append("")
        # Named values and CHOICE selectors.
        for d in self.order:
            if d.alias_of:
                continue
            prefix = d.cname[len("sgp32_type_"):].upper()
            if d.named:
                h.append("enum {")
                for nm, v in d.named:
                    cname = "SGP32_%s_%s" % (prefix, snake(nm).rstrip("_").upper())
                    if d.kind == "NAMED_BITS":
                        h.append("    %s = 1u << %d," % (cname, v))
                    else:
                        h.append("    %s = %d," % (cname, v))
                h.append("};")
            if d.kind == "CHOICE":
                h.append("enum {")
                h.append("    SGP32_%s_NONE = 0," % prefix)
                for i, (f, fd, wire) in enumerate(d.fields):
                    h.append("    SGP32_%s_%s = %d," % (prefix, snake(f.name).rstrip("_").upper(), i + 1))
                h.append("};")
        h.append("")
        for d in structs:
            h.append("typedef struct %s %s;" % (d.ctype, d.ctype))
        h.append("")
        # Named list typedefs need their element types declared first; elements are pointers.
        for n in names:
            d = self.descs[n]
            if getattr(d, "typedef_name", None):
                h.append("typedef %s %s;" % (self.list_ctype(d), d.typedef_name))
        h.append("")
        done = set()

        def emit_struct(d):
            if d.cname in done:
                return
            done.add(d.cname)
            for f, fd, wire in d.fields:
                inner = fd.alias_of or fd
                if inner.kind in ("SEQUENCE", "CHOICE"):
                    emit_struct(inner)
            lines = ["struct %s {" % d.ctype, "    sgp32_bytes der; /* the TLV as received */"]
            if d.kind == "SEQUENCE":
                for f, fd, wire in d.fields:
                    member = snake(f.name)
                    inner = fd.alias_of or fd
                    if f.optional and inner.kind != "NULL":
                        lines.append("    bool has_%s;" % member.rstrip("_"))
                    lines.append("    %s %s;" % (self.value_ctype(inner), member))
            else:
                lines.append("    int choice;")
                members = []
                for f, fd, wire in d.fields:
                    inner = fd.alias_of or fd
                    if inner.kind == "NULL":
                        continue
                    members.append("        %s %s;" % (self.value_ctype(inner), snake(f.name)))
                if not members:
                    members.append("        char unused;")
                lines.append("    union {")
                lines.extend(members)
                lines.append("    } u;")
            lines.append("};")
            h.extend(lines)
            h.append("")

        for d in structs:
            emit_struct(d)
        for n in names:
            d = self.descs[n]
            if d.alias_of and d.kind in ("SEQUENCE", "CHOICE") and "sgp32_" + snake(n) != d.ctype:
                h.append("typedef %s sgp32_%s;" % (d.ctype, snake(n)))
        h.append("")
        h.append("/* Descriptors: pass these to sgp32_asn1_decode / sgp32_asn1_encode. */")
        for d in self.order:
            h.append("extern const sgp32_asn1_type %s;" % d.cname)
        h.append("\n/* Every named type of the schema, for tools that look types up by name or tag. */")
        h.append("extern const sgp32_asn1_type *const sgp32_asn1_named_types[];")
        h.append("extern const size_t sgp32_asn1_named_type_count;")
        h.append("\n#endif")
        open(header_path, "w").write("\n".join(h) + "\n")

        c = []
        c.append("/* Generated by scripts/asn1gen.py from shared/spec/asn1 (SGP.32 v1.2, SGP.22). Do not edit. */")
        c.append("#include <stddef.h>\n")
        c.append('#include "sgp32/asn1_types.h"\n')
        c.append("#define NO SGP32_ASN1_NO_OFFSET")
        c.append("#define OPT SGP32_ASN1_OPTIONAL")
        c.append("#define DEF SGP32_ASN1_DEFAULT\n")
        for d in self.order:
            if d.alias_of:
                continue
            if d.named:
                c.append("static const sgp32_asn1_named %s_names[] = {" % d.cname)
                for nm, v in d.named:
                    c.append('    {%d, "%s"},' % (v, nm))
                c.append("};")
            if d.kind in ("SEQUENCE", "CHOICE"):
                c.append("static const sgp32_asn1_field %s_fields[] = {" % d.cname)
                for f, fd, wire in d.fields:
                    member = snake(f.name)
                    inner = fd.alias_of or fd
                    if d.kind == "CHOICE":
                        off = "0" if inner.kind == "NULL" else "offsetof(%s, u.%s)" % (d.ctype, member)
                        present = "NO"
                        flags = "0"
                    else:
                        off = "offsetof(%s, %s)" % (d.ctype, member)
                        if f.optional:
                            present = off if inner.kind == "NULL" else "offsetof(%s, has_%s)" % (
                                d.ctype, member.rstrip("_"))
                            flags = "OPT"
                        else:
                            present, flags = "NO", "0"
                    default = "0"
                    if f.default is not None:
                        flags = "DEF"
                        if f.default in ("TRUE", "FALSE"):
                            default = "1" if f.default == "TRUE" else "0"
                        elif re.fullmatch(r"-?\d+", f.default):
                            default = f.default
                        else:
                            default = str(dict(inner.named)[f.default])
                    c.append('    {"%s", &%s, 0x%X, %s, %s, %s, %s},' % (
                        f.name, fd.cname, wire, off, present, flags, default))
                c.append("};")
        c.append("")
        for d in self.order:
            src = d.alias_of or d
            if src.kind in ("SEQUENCE", "CHOICE"):
                size = "sizeof(%s)" % src.ctype
            elif src.kind == "SEQUENCE_OF":
                size = "sizeof(sgp32_asn1_list)"
            else:
                size = "sizeof(%s)" % self.scalar_ctype(src.kind)
            fields = "%s_fields" % src.cname if src.kind in ("SEQUENCE", "CHOICE") else "NULL"
            nfields = len(src.fields) if src.kind in ("SEQUENCE", "CHOICE") else 0
            element = "&" + src.element.cname if src.element else "NULL"
            lo, hi = (src.size if src.size else (0, None))
            hi_s = "UINT32_MAX" if hi is None else str(hi)
            named_arr = "%s_names" % src.cname if src.named else "NULL"
            c.append('const sgp32_asn1_type %s = {"%s", SGP32_ASN1_%s, 0x%X, %s, %d, %s, %s, %d, %s, %s, %d};' % (
                d.cname, d.schema_name, src.kind, d.tag, size, nfields, fields, element, lo, hi_s, named_arr,
                len(src.named)))
        c.append("")
        c.append("const sgp32_asn1_type *const sgp32_asn1_named_types[] = {")
        for n in names:
            c.append("    &%s," % self.descs[n].cname)
        c.append("};")
        c.append("const size_t sgp32_asn1_named_type_count = %d;" % len(names))
        open(source_path, "w").write("\n".join(c) + "\n")


def main():
    spec, header, source = sys.argv[1:4]
    types = {}
    module_types = set()
    for m in MODULES:
        t = Parser(tokenize(open(spec + "/" + m).read())).module()
        types.update(t)
        module_types.update(t)
    pe = open(spec + "/PEDefinitions.asn").read()
    for name in PE_TYPES:
        match = re.search(r"^%s\s*::=.*?^}" % name, pe, flags=re.S | re.M)
        types.update(Parser(tokenize("X DEFINITIONS ::= BEGIN " + match.group(0) + " END")).module())
    g = Generator(types)
    g.module_types = module_types
    names = g.run()
    g.emit(names, header, source)


if __name__ == "__main__":
    main()
