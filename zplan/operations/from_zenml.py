"""`zplan import-zenml MODULE:PIPELINE`: a ZenML ``@pipeline`` function as steps pointing at the same functions.

The pipeline is read statically (nothing is imported, ZenML need not be installed):
each call of a step function becomes a step (``source`` = the file that defines it,
followed through imports and ``__init__.py`` re-exports); a call argument bound
to an earlier step's result becomes an input (the output named by the step's
``Annotated`` return type), one of the pipeline's parameters a ``var.`` reference
(the parameter a variable, its default kept), a literal a param. What cannot be
read that way (loops, conditionals, ``.after()``, configuration calls) is listed.
``enable_cache=False`` of a ``@step(...)``, or of the ``@pipeline(...)`` for the steps
that do not set their own, becomes ``cache = false``: ZenML runs such a step every time.
A variable is typed by the annotation of the pipeline's parameter, or else of the step
parameters it is passed to (``zenml_types``). The step functions are found in
``zenml_code``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from zplan import diags
from zplan.config.convert import ConversionError
from zplan.config.convert import convert as convert_value
from zplan.config.fmt import format_text
from zplan.config.types import ANY, Type
from zplan.config.variable_checks import RESERVED_NAMES
from zplan.operations.dvc_literals import hcl_literal
from zplan.operations.from_dvc import write_converted
from zplan.operations.zenml_code import _Reader
from zplan.operations.zenml_types import _as_float, _with_floats, floats, hcl_type, is_int
from zplan.plan.code_hash import CodeError
from zplan.plan.code_scope import ModuleBindings
from zplan.plan.signatures import callee_name
from zplan.steps import DEFAULT_OUTPUT

DEFAULT_OUT = "zenml.zp.hcl"


@dataclass
class Converted:
    text: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _Step:
    name: str
    source: str
    inputs: dict[str, str] = field(default_factory=dict)  # param -> HCL reference
    params: dict[str, str] = field(default_factory=dict)  # param -> HCL expression
    after: list[str] = field(default_factory=list)
    cache: bool = True
    annotations: dict[str, ast.expr | None] = field(default_factory=dict)  # of the function's parameters


def import_zenml(root: Path, spec: str, out: Path | None = None, force: bool = False) -> tuple[Path, Converted]:
    dest = out or root / DEFAULT_OUT
    if dest.parent.resolve() != root.resolve():  # a project's step sources are read from its own folder
        raise diags.fail(f"{dest} is not in the project folder {root}", f"write it there: -out {dest.name}, and run zplan from there")
    converted = convert(root, spec)
    write_converted(dest, converted.text, force, DEFAULT_OUT)
    return dest, converted


def convert(root: Path, spec: str) -> Converted:
    module_name, sep, function = spec.partition(":")
    if not sep or not function.isidentifier():
        raise diags.fail(f"cannot read {spec!r} as MODULE:PIPELINE", "e.g. pipelines.training:training_pipeline")
    reader = _Reader(root.resolve())
    module = reader.module_file(module_name)
    found = reader.definition(module, function)  # defined there, or imported (a package's __init__.py re-exports it)
    if found is None or not isinstance(found[1], ast.FunctionDef):
        raise diags.fail(f"{reader.rel(module)} has no function {function!r}", "name the function decorated with @pipeline")
    path, fn = found
    return _Pipeline(reader, path, reader.parse(path)[1], fn).convert()


class _Pipeline:
    def __init__(self, reader: _Reader, path: Path, bindings: ModuleBindings, fn: ast.FunctionDef) -> None:
        self.reader, self.path, self.bindings, self.fn = reader, path, bindings, fn
        self.notes: list[str] = []
        self.steps: dict[str, _Step] = {}
        self.values: dict[str, str] = {}  # python name in the pipeline body -> HCL reference
        self.ids: dict[str, str] = {}  # ZenML's invocation id of each step call -> its step name here
        self.annotations: dict[str, ast.expr | None] = {}  # variable -> its pipeline parameter's annotation
        self.defaults: dict[str, ast.expr | None] = {}  # variable -> its pipeline parameter's default
        self.uses: dict[str, list[ast.expr | None]] = {}  # variable -> the annotations of the step parameters given it
        self.variables = self._variables()
        self.cache = self._enable_cache(fn, "pipeline")

    def convert(self) -> Converted:
        for stmt in self.fn.body:
            self._statement(stmt)
        if not self.steps:
            found = "".join(f"\n  {note}" for note in self.notes)  # why each call was not one
            raise diags.fail(f"{self.fn.name} calls no step function that could be read",
                             f"is it the @pipeline function?{found}", diags.Range(str(self.path), self.fn.lineno))
        lines = [f"# Converted from {self.reader.rel(self.path)}:{self.fn.name} by `zplan import-zenml`.", ""]
        for name, default in self.variables.items():
            type_, validation = self._type(name)
            lines += [f'variable "{name}" {{', *type_, *([f"  default = {default}"] if default is not None else []), *validation, "}", ""]
        lines.append(f'pipeline "{self.fn.name}" {{')
        for step in self.steps.values():
            lines += ["", f'  step "{step.name}" {{', f'    source = "{step.source}"']
            if step.inputs:
                lines.append("    inputs = { " + ", ".join(f"{k} = {v}" for k, v in step.inputs.items()) + " }")
            if step.params:
                lines.append("    params = { " + ", ".join(f"{k} = {v}" for k, v in step.params.items()) + " }")
            if step.after:
                lines.append(f"    depends_on = [{', '.join(f'step.{a}' for a in step.after)}]")
            if not step.cache:
                lines.append("    cache = false")
            lines.append("  }")
        lines += ["}", ""]
        return Converted(format_text("\n".join(lines), DEFAULT_OUT), [self._placed(note) for note in self.notes])

    def _placed(self, note: str) -> str:
        """The note at the file:line of what it names (for a variable or a step's results, the pipeline's
        function); one already placed (a step's decorator, in its own file) as it is."""
        rel = self.reader.rel(self.path)
        number, _, rest = note.removeprefix("line ").partition(": ")
        if note.startswith("line ") and number.isdigit():
            return f"{rel}:{number}: {rest}"
        return f"{rel}:{self.fn.lineno}: {note}" if note.startswith(("variable ", "step ")) else note

    def _variables(self) -> dict[str, str | None]:
        args = self.fn.args
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
        out = {}
        for arg, default in pairs:
            default = self._constant(default)
            name = f"{arg.arg}_param" if arg.arg in RESERVED_NAMES else arg.arg
            if name != arg.arg:
                self.notes.append(f"line {arg.lineno}: parameter {arg.arg} is variable {name} ({arg.arg} is a reserved name in HCL)")
            out[name] = self._literal(default) if default is not None else None
            self.annotations[name], self.defaults[name] = arg.annotation, default if out[name] is not None else None
            if default is not None and out[name] is None:
                self.notes.append(f"line {arg.lineno}: the default of {arg.arg} ({ast.unparse(default)}) is not converted: give it with -var {name}=...")
            self.values[arg.arg] = f"var.{name}"
        return out

    def _constant(self, node: ast.expr | None) -> ast.expr | None:
        """A default or argument naming a constant of the pipeline's module (``epochs: int = EPOCHS``): the literal
        it is assigned, when the module assigns it once, at its top level; else the expression as written."""
        if not isinstance(node, ast.Name):
            return node
        tree = self.reader.parse(self.path)[0]
        values = [stmt.value for stmt in tree.body if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None
                  and [t.id for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]) if isinstance(t, ast.Name)] == [node.id]]
        bound = sum(1 for found in ast.walk(tree) if isinstance(found, ast.Name) and found.id == node.id and isinstance(found.ctx, ast.Store))
        return values[0] if len(values) == 1 and bound == 1 and self._literal(values[0]) is not None else node

    def _type(self, name: str) -> tuple[list[str], list[str]]:
        """The variable's ``type`` line, and for an int a validation asking for a whole number: what ZenML checks
        of the value, from the pipeline parameter's annotation, or else those of the step parameters given it."""
        given = self.annotations[name]
        annotations = [given] if given is not None else self.uses.get(name, [])
        types = {hcl_type(a) for a in annotations}
        type_: Type = types.pop() if len(types) == 1 else ANY
        if type_ == ANY:
            return [], []
        default = self._default(name)
        try:
            convert_value(default, type_, f"var.{name}")
        except ConversionError as exc:
            self.notes.append(f"variable {name}: its default does not fit its annotation ({exc}): it is left without a type")
            return [], []
        whole = all(is_int(a) for a in annotations)
        if not whole or isinstance(default, float) and not default.is_integer():
            return [f"  type = {type_}"], []
        condition = f"floor(var.{name}) == var.{name}"
        condition = f"var.{name} == null || {condition}" if default is None else condition  # null: a default of None
        return [f"  type = {type_}"], ["", "  validation {", f"    condition     = {condition}",
                                       f'    error_message = "{name} must be a whole number: it is an int"', "  }"]

    def _default(self, name: str) -> object:
        try:
            return ast.literal_eval(self.defaults[name]) if self.defaults[name] is not None else None
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # the docstring
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Call):
            if self._call(stmt.value, stmt.targets[0]) is None:
                self._forget(stmt)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._call(stmt.value, None)
        elif isinstance(stmt, ast.Return):
            return
        else:
            self.notes.append(f"line {stmt.lineno}: {type(stmt).__name__.lower()} statement not converted: {ast.unparse(stmt).splitlines()[0]}")
            self._forget(stmt)

    def _forget(self, node: ast.AST) -> None:
        """The names ``node`` binds, when it is not converted: they no longer hold what they held, so a later
        use of one is listed as not converted instead of passing on the old value."""
        for found in ast.walk(node):
            if isinstance(found, ast.Name) and isinstance(found.ctx, ast.Store):
                self.values.pop(found.id, None)

    def _call(self, call: ast.Call, target: ast.expr | None) -> tuple[_Step, list[str]] | None:
        """The step a call makes, with its output names; None (listed) when it calls no step function."""
        func, options = _with_options(call.func)
        found = self.reader.called(self.path, func)
        if found is None:
            self.notes.append(f"line {call.lineno}: {ast.unparse(call)} is not a step function zplan could find: not converted")
            return None
        path, fn = found
        name = func.id if isinstance(func, ast.Name) else func.attr  # as the pipeline calls it
        step = _Step(name, f"{self.reader.rel(path)}:{fn.name}")
        step.annotations = {a.arg: a.annotation for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
        own = self._cache_option(options, call.lineno)
        own = self._enable_cache(fn, "step", path) if own is None else own
        step.cache = own if own is not None else self.cache is not False
        self._parameters(step, options.get("parameters"), call.lineno)
        for option in sorted(set(options) - {"enable_cache", "parameters"}):  # ZenML's run settings: its stack's concern
            self.notes.append(f"line {call.lineno}: {name}.with_options({option}=...) is not converted")
        params = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
        for index, arg in enumerate(call.args):
            if index < len(params) and not isinstance(arg, ast.Starred):
                self._argument(step, params[index], arg, call.lineno)
            else:  # *rows, or past the parameters it names (into *args)
                self.notes.append(f"line {call.lineno}: argument {ast.unparse(arg)} of {name} is not converted")
        for kw in call.keywords:
            if kw.arg == "after":
                step.after += self._after(kw.value, call.lineno)
            elif kw.arg is None:
                self.notes.append(f"line {call.lineno}: argument **{ast.unparse(kw.value)} of {name} is not converted")
            elif kw.arg != "id":
                self._argument(step, kw.arg, kw.value, call.lineno)
        step.name = self._unique(name)  # named once the step calls in its arguments have their names
        if any(kw.arg == "id" for kw in call.keywords):
            self.notes.append(f"line {call.lineno}: id= is not kept (the step is named {step.name})")
        self.steps[step.name] = step
        self.ids[self._invocation_id(call, fn)] = step.name
        outputs = self._outputs(path, fn.name)
        self._bind_outputs(step, target, outputs)
        return step, outputs

    def _cache_option(self, options: dict[str, ast.expr], line: int) -> bool | None:
        """``enable_cache=`` of ``step.with_options(...)``, which wins over the decorator's."""
        value = options.get("enable_cache")
        if value is None or isinstance(value, ast.Constant) and isinstance(value.value, bool):
            return None if value is None else value.value
        self.notes.append(f"line {line}: enable_cache={ast.unparse(value)} is not converted (write cache = false on the step to run it every time)")
        return None

    def _parameters(self, step: _Step, value: ast.expr | None, line: int) -> None:
        """``parameters={...}`` of ``step.with_options(...)``: the step's params, as arguments of the call."""
        if value is None:
            return
        if not isinstance(value, ast.Dict) or not all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys):
            self.notes.append(f"line {line}: parameters={ast.unparse(value)} is not converted")
            return
        for key, item in zip(value.keys, value.values):
            self._argument(step, key.value, item, line)

    def _invocation_id(self, call: ast.Call, fn: ast.FunctionDef) -> str:
        """The id ZenML gives a step call, which ``after="..."`` names: ``id=``, else the step's name (its
        ``@step(name=...)`` or function name), then ``_2``, ``_3``... for the next calls of the same step."""
        given = next((kw.value.value for kw in call.keywords if kw.arg == "id" and isinstance(kw.value, ast.Constant)), None)
        if isinstance(given, str):
            return given
        base = next((kw.value.value for deco in fn.decorator_list if isinstance(deco, ast.Call) and callee_name(deco.func) == "step"
                     for kw in deco.keywords if kw.arg == "name" and isinstance(kw.value, ast.Constant)), None)
        base = base if isinstance(base, str) else fn.name
        found, n = base, 2
        while found in self.ids:
            found, n = f"{base}_{n}", n + 1
        return found

    def _after(self, value: ast.expr, line: int) -> list[str]:
        """The steps ``after=`` names: by ZenML's invocation id (a string) or by a result of theirs."""
        names = []
        for item in value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]:
            if isinstance(item, ast.Constant) and item.value in self.ids:
                names.append(self.ids[item.value])
            elif isinstance(item, ast.Name) and self.values.get(item.id, "").startswith("step."):
                names.append(self.values[item.id].split(".")[1])
            else:
                self.notes.append(f"line {line}: after={ast.unparse(item)} names no step called before: not converted")
        return names

    def _enable_cache(self, fn: ast.FunctionDef, decorator: str, path: Path | None = None) -> bool | None:
        """``enable_cache=`` of the function's ``@step(...)`` / ``@pipeline(...)``; None when it sets none."""
        for deco in fn.decorator_list:
            if isinstance(deco, ast.Call) and callee_name(deco.func) == decorator:
                for kw in deco.keywords:
                    if kw.arg == "enable_cache":
                        value = kw.value.value if isinstance(kw.value, ast.Constant) else None
                        if isinstance(value, bool):
                            return value
                        where = f"{self.reader.rel(path or self.path)}:{kw.value.lineno}"
                        self.notes.append(f"{where}: enable_cache={ast.unparse(kw.value)} is not converted (write cache = false on the step to run it every time)")
        return None

    def _argument(self, step: _Step, param: str, value: ast.expr, line: int) -> None:
        if isinstance(value, ast.Name) and value.id in self.values:
            ref = self.values[value.id]
            if ref.startswith("var."):
                variable = ref.removeprefix("var.")
                self.uses.setdefault(variable, []).append(step.annotations.get(param))
                given = step.annotations.get(param)  # a float of the pipeline's is an int again for an int parameter
                kind = floats(given) or (floats(self.annotations.get(variable)) if not is_int(given) else None)
                step.params[param] = _as_float(ref, kind, self._default(variable) is None) if kind else ref
            else:
                step.inputs[param] = ref
            return
        if isinstance(value, ast.Call) and self.reader.called(self.path, _with_options(value.func)[0]):
            self._nested(step, param, value, line)  # `evaluate(model=train(data))`: train is a step of its own
            return
        literal = self._literal(self._constant(value), floats(step.annotations.get(param)))  # `lr=2` for `lr: float`: ZenML passes 2.0
        if literal is None:
            self.notes.append(f"line {line}: argument {param}={ast.unparse(value)} is not converted")
        else:
            step.params[param] = literal

    def _nested(self, step: _Step, param: str, call: ast.Call, line: int) -> None:
        """A step called in another's argument: its one output is that argument."""
        made = self._call(call, None)
        if made is None:
            return
        inner, outputs = made
        if len(outputs) != 1:
            self.notes.append(f"line {line}: argument {param}={ast.unparse(call)} passes {len(outputs)} outputs of {inner.name}: not converted")
            return
        step.inputs[param] = f"step.{inner.name}.outputs.{outputs[0]}"

    def _outputs(self, path: Path, function: str) -> list[str]:
        try:
            return self.reader.index.info(self.reader.rel(path), function).outputs or [DEFAULT_OUTPUT]
        except CodeError:
            return [DEFAULT_OUTPUT]

    def _bind_outputs(self, step: _Step, target: ast.expr | None, outputs: list[str]) -> None:
        names = [target] if isinstance(target, ast.Name) else list(target.elts) if isinstance(target, ast.Tuple) else []
        if len(names) > 1 and len(names) != len(outputs):
            self.notes.append(f"step {step.name}: {len(names)} results unpacked, {len(outputs)} outputs declared: check its return annotation")
        for node in names[len(outputs):] if len(names) > 1 else []:  # more results than outputs: nothing to bind them to
            self._forget(node)
        for node, output in zip(names, outputs):
            if isinstance(node, ast.Name):
                self.values[node.id] = f"step.{step.name}.outputs.{output}"

    def _unique(self, name: str) -> str:
        if name not in self.steps:
            return name
        n = 2
        while f"{name}_{n}" in self.steps:
            n += 1
        return f"{name}_{n}"

    def _literal(self, node: ast.expr, floated: str | None = None) -> str | None:
        """A Python literal as HCL; its whole numbers as floats where ``floats()`` says ZenML makes them floats."""
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
        if isinstance(value, (set, frozenset, complex, bytes)):
            return None
        try:
            return hcl_literal(_with_floats(value, floated))
        except diags.DiagnosticError:  # NaN or infinity
            return None


def _with_options(func: ast.expr) -> tuple[ast.expr, dict[str, ast.expr]]:
    """``train.with_options(enable_cache=False, ...)`` as (``train``, its options); any other callee as it is."""
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Attribute) and func.func.attr == "with_options":
        return func.func.value, {kw.arg: kw.value for kw in func.keywords if kw.arg}
    return func, {}
