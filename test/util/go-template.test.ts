import { describe, expect, test } from "bun:test";
import { GoFloat, GoInt, GoMapValue, GoSlice, GoStruct, goSprintf, int, type GoValue } from "../../src/util/go-fmt.ts";
import { GoTemplate, JSON_FUNC, TemplateExecError, TemplateParseError } from "../../src/util/go-template.ts";

/** kit's `list.modelInfo` for one kit. */
const kit = (tags: string[] | null = ["v1", "latest"], author = "<none>") =>
  new GoStruct("list.modelInfo", [
    { name: "Repo", type: "string", json: "repo", value: "myrepo" },
    { name: "Digest", type: "string", json: "digest", value: "sha256:abc" },
    { name: "Tags", type: "[]string", json: "tags", value: new GoSlice("string", tags) },
    { name: "ModelName", type: "string", json: "modelName", value: "my-model" },
    { name: "Size", type: "string", json: "size", value: "1.5 KiB" },
    { name: "Author", type: "string", json: "author", value: author },
  ]);

const run = (src: string, data: GoValue = kit()) => GoTemplate.parse("list", src, { json: JSON_FUNC }).execute(data);
const parseError = (src: string) => {
  try {
    GoTemplate.parse("list", src, { json: JSON_FUNC });
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateParseError);
    return (e as Error).message;
  }
  throw new Error(`${src} parsed`);
};
const execError = (src: string, data: GoValue = kit()) => {
  try {
    run(src, data);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateExecError);
    return { message: (e as Error).message, partial: (e as TemplateExecError).partial };
  }
  throw new Error(`${src} executed`);
};

describe("KitOps' documented placeholders", () => {
  test("each field, the tags slice as Go prints it, and the first tag", () => {
    expect(run("{{ .Repo }} {{ .Tags }} {{ .Digest }} {{ .ModelName }} {{ .Size }} {{ .Author }}")).toBe("myrepo [v1 latest] sha256:abc my-model 1.5 KiB <none>");
    expect(run("{{ .Tags }}", kit(null))).toBe("[]");
    expect(run("{{ .Repo }}:{{ index .Tags 0 }}")).toBe("myrepo:v1");
    expect(run("{{ . }}")).toBe("{myrepo sha256:abc [v1 latest] my-model 1.5 KiB <none>}");
  });
});

describe("lexical constructs", () => {
  test("text passes through; trim markers eat the spaces on their side only", () => {
    expect(run("a {{ .Repo }} b")).toBe("a myrepo b");
    expect(run("a \n {{- .Repo -}} \n b")).toBe("amyrepob");
    expect(run("a {{- .Repo }} b")).toBe("amyrepo b");
    expect(run("{{ .Repo }}\n\t{{- \" \" }}|")).toBe("myrepo |");
    // `{{-3}}` is the number -3: a trim marker needs a space after it.
    expect(run("x {{-3}} {{ -3 -}} y")).toBe("x -3 -3y");
  });

  test("comments, alone or with trim markers", () => {
    expect(run("a{{/* a comment */}}b")).toBe("ab");
    expect(run("a {{- /* multi\nline */ -}} b")).toBe("ab");
    expect(parseError("{{/* x */ .Repo}}")).toBe("template: list:1: comment ends before closing delimiter");
    expect(parseError("{{/* x")).toBe("template: list:1: unclosed comment");
  });

  test("literals: numbers in every Go base, runes, floats, strings and raw strings", () => {
    expect(run("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }} {{ 'a' }} {{ -3 }} {{ +4 }}")).toBe("31 15 15 5 1000 97 -3 4");
    expect(run("{{ 3.5 }} {{ 3.0 }} {{ 1.5e3 }} {{ 1e6 }} {{ 1e21 }} {{ 0x1p4 }}")).toBe("3.5 3 1500 1e+06 1e+21 16");
    expect(run('{{ "tab\\tq\\"\\u00e9" }}|{{ `raw\\n` }}|{{ true }} {{ false }}')).toBe('tab\tq"é|raw\\n|true false');
    expect(parseError("{{ 1i }}")).toBe('template: list:1: illegal number syntax: "1i"');
    expect(execError("{{ 9223372036854775808 }}").message).toBe('template: list:1:3: executing "list" at <9223372036854775808>: 9223372036854775808 overflows int');
  });
});

describe("pipelines and variables", () => {
  test("a value piped in is the last argument; parenthesized pipelines are arguments", () => {
    expect(run("{{ .Tags | len }}")).toBe("2");
    expect(run('{{ "abc" | printf "%s-%s" "x" }}')).toBe("x-abc");
    expect(run('{{ printf "%d tags" (len .Tags) }}')).toBe("2 tags");
    expect(run("{{ .Tags | len | printf \"%03d\" }}")).toBe("002");
    expect(parseError("{{ 1 | 2 }}")).toBe("template: list:1: non executable command in pipeline stage 2");
    expect(run("{{ .Repo | }}")).toBe("myrepo"); // Go accepts a trailing pipe
    expect(parseError("{{ | .Repo }}")).toBe('template: list:1: unexpected "|" in command');
  });

  test("declaration, assignment (visible after the range), $ and scope", () => {
    expect(run("{{ $x := .Repo }}{{ $x }}")).toBe("myrepo");
    expect(run("{{ $last := \"\" }}{{ range .Tags }}{{ $last = . }}{{ end }}{{ $last }}")).toBe("latest");
    expect(run("{{ range .Tags }}{{ $.Repo }}/{{ . }} {{ end }}")).toBe("myrepo/v1 myrepo/latest ");
    expect(parseError("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}")).toBe('template: list:1: undefined variable "$y"');
    // An assignment to an undeclared variable fails only when it runs.
    expect(execError("{{ $z = 1 }}").message).toBe('template: list:1:8: executing "list" at <1>: undefined variable: $z');
  });
});

describe("control structures", () => {
  test("if / else if / else, and Go truthiness", () => {
    const t = '{{ if eq .Author "<none>" }}anonymous{{ else if eq .Author "Alice" }}alice{{ else }}{{ .Author }}{{ end }}';
    expect(run(t)).toBe("anonymous");
    expect(run(t, kit([], "Alice"))).toBe("alice");
    expect(run(t, kit([], "Bob"))).toBe("Bob");
    const truth = (v: string) => run(`{{ if ${v} }}T{{ else }}F{{ end }}`);
    expect([truth('""'), truth('"x"'), truth("0"), truth("1"), truth("0.0"), truth(".Tags"), truth("."), truth("false")]).toEqual(
      ["F", "T", "F", "T", "F", "T", "T", "F"],
    );
    expect(run("{{ if .Tags }}tagged{{ else }}untagged{{ end }}", kit(null))).toBe("untagged");
  });

  test("with sets dot; else with chains", () => {
    expect(run("{{ with .ModelName }}<{{ . }}>{{ end }}")).toBe("<my-model>");
    expect(run('{{ with "" }}x{{ else with .Size }}{{ . }}{{ else }}none{{ end }}')).toBe("1.5 KiB");
    expect(run('{{ with "" }}x{{ else }}none{{ end }}')).toBe("none");
  });

  test("range over slices (index and element), else on empty or nil, break and continue", () => {
    expect(run("{{ range .Tags }}[{{ . }}]{{ end }}")).toBe("[v1][latest]");
    expect(run("{{ range $i, $t := .Tags }}{{ if $i }},{{ end }}{{ $i }}={{ $t }}{{ end }}")).toBe("0=v1,1=latest");
    expect(run("{{ range $t := .Tags }}{{ $t }};{{ end }}")).toBe("v1;latest;");
    expect(run("{{ range .Tags }}x{{ else }}no tags{{ end }}", kit(null))).toBe("no tags");
    expect(run("{{ range .Tags }}x{{ else }}no tags{{ end }}", kit([]))).toBe("no tags");
    expect(run('{{ range .Tags }}{{ if eq . "v1" }}{{ continue }}{{ end }}{{ . }}{{ end }}')).toBe("latest");
    expect(run('{{ range .Tags }}{{ if eq . "latest" }}{{ break }}{{ end }}{{ . }}{{ end }}')).toBe("v1");
    expect(parseError("{{ break }}")).toBe("template: list:1: {{break}} outside {{range}}");
    expect(parseError("{{ range $a, $b, $c := .Tags }}{{ end }}")).toBe("template: list:1: too many declarations in range");
  });

  test("range over a map walks keys in sorted order", () => {
    const m = new GoMapValue("string", "int", new Map<string, GoValue>([["b", int(2)], ["a", int(1)], ["B", int(0)]]));
    expect(run("{{ range $k, $v := . }}{{ $k }}={{ $v }} {{ end }}", m)).toBe("B=0 a=1 b=2 ");
    expect(run("{{ range . }}{{ . }}{{ end }}", m)).toBe("012");
    expect(run("{{ . }} {{ .a }} {{ .zz }} {{ index . \"zz\" }}", m)).toBe("map[B:0 a:1 b:2] 1 <no value> 0");
    const ints = new GoMapValue("int", "string", new Map<bigint, GoValue>([[10n, "ten"], [2n, "two"], [-1n, "minus"]]));
    expect(run("{{ range $k, $v := . }}{{ $k }}:{{ $v }} {{ end }}", ints)).toBe("-1:minus 2:two 10:ten ");
  });

  test("define, template and block", () => {
    expect(run('{{ define "tag" }}<{{ . }}>{{ end }}{{ range .Tags }}{{ template "tag" . }}{{ end }}')).toBe("<v1><latest>");
    expect(run('{{ block "size" .Size }}[{{ . }}]{{ end }}')).toBe("[1.5 KiB]");
    expect(execError('{{ template "nope" }}').message).toBe('template: list:1:12: executing "list" at <{{template "nope"}}>: template "nope" not defined');
    expect(execError('{{ define "loop" }}{{ template "loop" }}{{ end }}{{ template "loop" }}').message).toContain("exceeded maximum template depth");
  });
});

describe("functions", () => {
  test("and / or return an operand and stop evaluating once the result is known", () => {
    expect(run('{{ and 1 "x" }} {{ and 1 0 "x" }} {{ or 0 "" "y" }} {{ or 0 "" }}|')).toBe('x 0 y |');
    // The index would fail: short-circuit evaluation never calls it.
    expect(run("{{ or .Repo (index .Tags 9) }} {{ and false (index .Tags 9) }}")).toBe("myrepo false");
    expect(run("{{ not .Tags }} {{ not 0 }}")).toBe("false true");
  });

  test("len, index and slice", () => {
    expect(run('{{ len .Tags }} {{ len .Repo }} {{ len "é" }}')).toBe("2 6 2");
    expect(run("{{ index .Tags 1 }} {{ index .Repo 0 }}")).toBe("latest 109");
    expect(run("{{ slice .Tags 1 }} {{ slice .Repo 0 2 }} {{ slice .Tags }}")).toBe("[latest] my [v1 latest]");
    expect(execError("{{ index .Tags 2 }}").message).toBe('template: list:1:3: executing "list" at <index .Tags 2>: error calling index: index out of range: 2');
    expect(execError('{{ index .Tags "a" }}').message).toContain("error calling index: cannot index slice/array with type string");
    expect(execError("{{ len 3 }}").message).toContain("error calling len: len of type int");
    expect(execError("{{ index .Tags 0 }}", kit(null)).message).toContain("index out of range: 0");
  });

  test("comparisons", () => {
    expect(run('{{ eq .Repo "a" "myrepo" }} {{ ne .Repo "x" }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1.5 2.5 }}')).toBe("true true true true true false");
    expect(execError('{{ eq 1 "a" }}').message).toBe('template: list:1:3: executing "list" at <eq 1 "a">: error calling eq: incompatible types for comparison');
    expect(execError("{{ lt true false }}").message).toContain("error calling lt: invalid type for comparison");
    expect(execError("{{ lt .Tags 1 }}").message).toContain("error calling lt: invalid type for comparison");
  });

  test("print, println, html, js, urlquery", () => {
    expect(run('{{ print 1 2 "a" 3 nil }}|{{ println 1 "a" }}|')).toBe("1 2a3 <nil>|1 a\n|");
    expect(run('{{ html "<a href=\'x\'>&\\"" }}')).toBe("&lt;a href=&#39;x&#39;&gt;&amp;&#34;");
    expect(run('{{ js "it\'s <b>" }}')).toBe("it\\'s \\u003Cb\\u003E");
    expect(run('{{ urlquery "a b&c=d/é" }}')).toBe("a+b%26c%3Dd%2F%C3%A9");
  });

  test("json (a kit addition) marshals as Go's encoding/json", () => {
    expect(run("{{ json . }}")).toBe('{"repo":"myrepo","digest":"sha256:abc","tags":["v1","latest"],"modelName":"my-model","size":"1.5 KiB","author":"\\u003cnone\\u003e"}');
    expect(run("{{ json .Tags }} {{ .Tags | json }} {{ json 1 }} {{ json 1.5 }} {{ json nil }}", kit(null))).toBe("null null 1 1.5 null");
  });

  test("wrong arguments are Go's errors", () => {
    expect(parseError("{{ nope 1 }}")).toBe('template: list:1: function "nope" not defined');
    expect(execError("{{ printf }}").message).toContain("wrong number of args for printf: want at least 1 got 0");
    expect(execError("{{ not 1 2 }}").message).toContain("wrong number of args for not: want 1 got 2");
    expect(execError("{{ printf 1 }}").message).toBe('template: list:1:10: executing "list" at <1>: expected string; found 1');
    expect(execError("{{ printf .Tags }}").message).toContain("wrong type for value; expected string; got []string");
    expect(execError("{{ .Repo 1 }}").message).toContain("Repo has arguments but cannot be invoked as function");
    expect(execError("{{ nil }}").message).toBe('template: list:1:3: executing "list" at <nil>: nil is not a command');
  });
});

describe("printf formats values as Go's fmt", () => {
  const f = (format: string, ...args: GoValue[]) => goSprintf(format, args);
  test("strings: %s %v %q %x, widths, precision, flags", () => {
    expect(run('{{ printf "%s|%v|%q|%x|%X|%-10s|%10s|%.2s|%5.1s|" .Repo .Repo .Repo .Repo .Repo .Repo .Repo .Repo .Repo }}')).toBe(
      'myrepo|myrepo|"myrepo"|6d797265706f|6D797265706F|myrepo    |    myrepo|my|    m|',
    );
    expect(f("%q %+q %#q %#q", 'a"b\n', "é", "ab", "a`b")).toBe('"a\\"b\\n" "\\u00e9" `ab` "a`b"');
    expect(f("% x|%#x|% #x", "hi", "hi", "hi")).toBe("68 69|0x6869|0x68 0x69");
    expect(f("%-4s|%4s|", "é", "é")).toBe("é   |   é|");
  });

  test("integers: %d %v %x %X %o %O %b %c %q %U, sign, zero padding, precision", () => {
    expect(f("%d|%v|%x|%X|%o|%O|%b|%c|%q|%U|%#U", int(255), int(255), int(255), int(255), int(8), int(8), int(5), int(0x1f600), int(97), int(0x41), int(0x41)))
      .toBe("255|255|ff|FF|10|0o10|101|😀|'a'|U+0041|U+0041 'A'");
    expect(f("%5d|%-5d|%05d|%+d|% d|%x|%#x|%#o|%08.3d|%.0d|", int(42), int(42), int(-42), int(5), int(5), int(-255), int(255), int(8), int(5), int(0)))
      .toBe("   42|42   |-0042|+5| 5|-ff|0xff|010|     005||");
    expect(f("%d", new GoInt(200n, "uint8"))).toBe("200");
  });

  test("floats: %v %e %f %g with precision and width", () => {
    const x = new GoFloat(1234.5678);
    expect(f("%v|%e|%E|%f|%.2f|%g|%.3g|%G", x, x, x, x, x, x, x, new GoFloat(1e-7))).toBe("1234.5678|1.234568e+03|1.234568E+03|1234.567800|1234.57|1234.5678|1.23e+03|1E-07");
    expect(f("%5.1f|%06.2f|%+.1e|%v|%v|%v|%g|%.3g", new GoFloat(3.14159), new GoFloat(3.14159), new GoFloat(0), new GoFloat(1e6), new GoFloat(123456), new GoFloat(-0), new GoFloat(0.0001), new GoFloat(100)))
      .toBe("  3.1|003.14|+0.0e+00|1e+06|123456|-0|0.0001|100");
    expect(f("%f|%v", new GoFloat(1e21), new GoFloat(Infinity))).toBe("1000000000000000000000.000000|+Inf");
  });

  test("bools, nil, slices, maps and structs", () => {
    expect(f("%t|%v|%5t|%v|%s", true, false, true, null, null)).toBe("true|false| true|<nil>|%!s(<nil>)");
    expect(run('{{ printf "%v|%q|%5s|%d" .Tags .Tags .Tags .Tags }}')).toBe('[v1 latest]|["v1" "latest"]|[   v1 latest]|[%!d(string=v1) %!d(string=latest)]');
    expect(run('{{ printf "%+v" . }}')).toBe("{Repo:myrepo Digest:sha256:abc Tags:[v1 latest] ModelName:my-model Size:1.5 KiB Author:<none>}");
    expect(run('{{ printf "%#v" . }}', kit(null))).toBe(
      'list.modelInfo{Repo:"myrepo", Digest:"sha256:abc", Tags:[]string(nil), ModelName:"my-model", Size:"1.5 KiB", Author:"<none>"}',
    );
    expect(run('{{ printf "%T %T %T %T %T %T" . .Tags .Repo 1 1.5 nil }}')).toBe("list.modelInfo []string string int float64 <nil>");
  });

  test("argument errors: missing, extra, bad verb, bad index, no verb; explicit indexes and * widths", () => {
    expect(f("%d %d", int(1))).toBe("1 %!d(MISSING)");
    expect(f("%d", int(1), "a", null)).toBe("1%!(EXTRA string=a, <nil>)");
    expect(f("%d|%z|%s", "s", int(1), true)).toBe("%!d(string=s)|%!z(int=1)|%!s(bool=true)");
    expect(f("%[2]s %[1]s|%[3]s", "a", "b")).toBe("b a|%!s(BADINDEX)");
    expect(f("%*d|%-*d|%.*f", int(5), int(42), int(4), int(7), int(2), new GoFloat(3.14159))).toBe("   42|7   |3.14");
    expect(f("100%%|abc%")).toBe("100%|abc%!(NOVERB)");
  });
});

describe("errors name the position as Go does", () => {
  test("execution errors: line, byte column and the node, after the output written so far", () => {
    expect(execError("{{ .Foo }}")).toEqual({ message: 'template: list:1:3: executing "list" at <.Foo>: can\'t evaluate field Foo in type list.modelInfo', partial: "" });
    expect(execError("é{{ .Repo }}\n  {{index   .Tags 3}}")).toEqual({
      message: 'template: list:2:4: executing "list" at <index .Tags 3>: error calling index: index out of range: 3',
      partial: "émyrepo\n  ",
    });
    expect(execError("{{ .Tags.Foo }}").message).toBe('template: list:1:8: executing "list" at <.Tags.Foo>: can\'t evaluate field Foo in type []string');
    expect(execError("{{ range .Repo }}{{ end }}").message).toBe('template: list:1:9: executing "list" at <.Repo>: range can\'t iterate over myrepo');
    expect(execError('{{ define "t" }}{{ .X }}{{ end }}{{ template "t" . }}').message).toBe('template: list:1:19: executing "t" at <.X>: can\'t evaluate field X in type list.modelInfo');
  });

  test("parse errors: the line, and where a multi-line action started", () => {
    expect(parseError("x\n{{ .Repo ")).toBe("template: list:2: unclosed action");
    expect(parseError("{{ .Repo\n\n")).toBe("template: list:3: unclosed action started at list:1");
    expect(parseError("{{ if .Repo }}x")).toBe("template: list:1: unexpected EOF");
    expect(parseError("a\nb\n{{ end }}")).toBe("template: list:3: unexpected {{end}}");
    expect(parseError("{{ else }}")).toBe("template: list:1: unexpected {{else}}");
    expect(parseError('{{ "abc }}')).toBe("template: list:1: unterminated quoted string");
    expect(parseError("{{ .Repo ) }}")).toBe("template: list:1: unexpected right paren");
    expect(parseError("{{ (.Repo }}")).toBe("template: list:1: unclosed left paren");
    expect(parseError("{{ @ }}")).toBe('template: list:1: unexpected "@" in command');
    expect(parseError("{{ .Repo$ }}")).toBe("template: list:1: bad character U+0024 '$'");
    expect(parseError("{{ 3.x }}")).toBe('template: list:1: bad number syntax: "3.x"');
    expect(parseError("{{ .Repo.\u0001 }}")).toBe("template: list:1: bad character U+0001");
    expect(parseError("{{ \u0001 }}")).toBe("template: list:1: unrecognized character in action: U+0001");
    expect(parseError("{{ if 1 }}".repeat(100_000))).toBe("template: list: actions nested too deeply");
    expect(parseError('{{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }}')).toBe('template: list:1: template: multiple definition of template "a"');
  });
});
