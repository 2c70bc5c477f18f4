"""Evaluating expressions: what ``var.x``, ``local.y``, ``step.a.outputs.b`` and
``resource.t.n.attr`` mean at a given moment.

Step outputs evaluate to ``StepOutputRef`` markers (the planner turns them into graph edges and artifact
hashes); resource attributes come from a callback: desired values, recorded outputs or ``UNKNOWN``.

Sensitivity follows Terraform's marks, at the grain of one evaluated expression: an expression
whose evaluation read a sensitive variable, a local computed from one, a resource attribute answered
as ``Sensitive`` or the output of a step with sensitive outputs is sensitive as a whole, whatever
templates, function calls, collections or conditionals it went through (``eval_marked``). Only what
the evaluation actually read counts: the branch a conditional did not take does not.

Blocks expanded from a module or by count / for_each (``zplan.config.expand``) are evaluated at their
``Where``: ``var.x`` there is the module's input (the calling block's expression, evaluated where the
call is), ``local.x`` the module's local, ``each.key`` / ``count.index`` the instance's key, and
``step.``, ``resource.`` and ``module.`` name what that module declares. A reference to a fanned-out
block without a key (``step.train``) is all its instances: a list for count, a map by key for
for_each, each instance an object whose attributes are read on use.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping

from zplan import diags
from zplan.addrs import instance_key, prefixed
from zplan.config.convert import module_input
from zplan.config.expr import Expr, Marks, Ref, static_fail
from zplan.config.instance_values import InstanceMap, InstanceRef, Lazy, StepInstance, StepOutputs, complete_objects, dotted, each_value, index_value, no_instance, validated_input
from zplan.config.values import UNKNOWN
from zplan.config.model import Config, ModuleInstance, Where
from zplan.config.secret_values import add_secret, keep_secret
from zplan.config.types import attribute_names
from zplan.config.step_refs import StepOutputRef, map_step_refs  # (imported from here too)
from zplan.secrets import Sensitive

# resource_value(address, attribute) -> value or UNKNOWN
ResourceLookup = Callable[[str, str], Any]
# resource_names(address) -> the attributes a resource instance has (its value as a whole holds them all)
ResourceNames = Callable[[str], Iterable[str]]

ANY_PIPELINE = "*"  # step references allowed; ``step.NAME`` is the first pipeline declaring NAME
# Locals evaluated inside one another: each link costs Python stack frames, so a longer chain is
# refused with what it is before the interpreter's recursion limit turns it into "nested too deeply".
MAX_LOCAL_CHAIN = 64


class Scope:
    def __init__(
        self,
        config: Config,
        variables: Mapping[str, Any],
        resource_value: ResourceLookup | None = None,
        stack: str = "",
        resource_names: ResourceNames | None = None,
        secrets: list[str] | None = None,
    ) -> None:
        self.config = config
        # the project's list of secret texts: a sensitive resource attribute read here joins it, so a
        # step param or a log holding it is digested in state and keys and redacted, as a sensitive
        # variable's value is
        self.secrets = secrets
        self.variables = variables
        self.resource_value = resource_value or (lambda address, attr: UNKNOWN)
        self.resource_names = resource_names
        self.stack = stack
        self._locals: dict[str, Any] = {}
        self._evaluating: list[str] = []
        self._evaluating_at: list[Any] = []  # where each of them is declared, for the cycle's message
        self._failed: dict[str, diags.DiagnosticError] = {}  # local values whose evaluation failed
        self._marks = Marks(self._secret)  # read: the evaluation under way has read a sensitive value
        self._sensitive_locals: set[str] = set()
        self._marked: set[int] = set()  # ids of expressions whose last evaluation was sensitive
        self._folders: dict[str, str] = {}  # module path -> path.module
        self._module_values: dict[tuple, tuple[Any, bool]] = {}  # (module path, kind, name) -> value, sensitive
        self._whole_objects = 0  # modules and resources made into values (Lazy) so far: see eval_marked
        # step address -> whether its outputs are sensitive (the step planner answers)
        self.step_is_sensitive: Callable[[str], bool] = lambda address: False
        # while instances are made (zplan.config.expand): make a block's instances before they are read
        self.expand_block: Callable[[str], None] | None = None

    def eval(self, expr: Expr, pipeline: str | None = None, where: Where | None = None) -> Any:
        """Evaluate ``expr``; step references are allowed only when ``pipeline`` is given."""
        return self.eval_marked(expr, pipeline, where)[0]

    def eval_marked(self, expr: Expr, pipeline: str | None = None, where: Where | None = None) -> tuple[Any, bool]:
        """The value of ``expr`` and whether it was computed from a sensitive value."""
        outer, self._marks.read = self._marks.read, False
        objects = self._whole_objects
        try:
            value = expr.evaluate(lambda ref: self._resolve(ref, pipeline, where), self.config.read_files, self._marks, self._folder(where))
            if self._whole_objects != objects:  # a module or resource read as a whole: what it holds (and its marks) counts
                complete_objects(value)
        finally:
            sensitive, self._marks.read = self._marks.read, outer or self._marks.read
        (self._marked.add if sensitive else self._marked.discard)(id(expr))
        return value, sensitive

    def eval_command(self, expr: Expr, pipeline: str, placed: Mapping[str, str], where: Where | None = None) -> Any:
        """A script step's command, where ``input.NAME`` is the relative path input NAME is placed at."""

        def resolve(ref: Ref) -> Any:
            if ref.parts[0] != "input":
                return self._resolve(ref, pipeline, where)
            name = str(ref.parts[1]) if len(ref.parts) == 2 else None
            if name not in placed:
                raise diags.fail(f'unknown input "{dotted(ref.parts)}"', f"this step's inputs: {', '.join(placed) or 'none'}", ref.range)
            return placed[name]

        return expr.evaluate(resolve, self.config.read_files, self._marks, self._folder(where))

    def _folder(self, where: Where | None) -> str:
        """``path.module`` at ``where``, worked out once per module instance."""
        module = where.module if where is not None else self.root()
        if module.path not in self._folders:
            self._folders[module.path] = "." if module.call is None else _module_folder(module)
        return self._folders[module.path]

    def eval_command_marked(self, expr: Expr, pipeline: str, placed: Mapping[str, str], where: Where | None = None) -> tuple[Any, bool]:
        """``eval_command``, and whether the command was computed from a sensitive value."""
        outer, self._marks.read = self._marks.read, False
        try:
            value = self.eval_command(expr, pipeline, placed, where)
        finally:
            sensitive, self._marks.read = self._marks.read, outer or self._marks.read
        (self._marked.add if sensitive else self._marked.discard)(id(expr))  # for was_sensitive, as eval_marked
        return value, sensitive

    def params_source(self, ref: Ref) -> str | None:
        """``params.yaml:train.n_est`` when ``ref`` (``var.train.n_est``, ``local.p.train.n_est``) reads
        a value of a params file (``-var-file params.yaml``, ``params_file(...)``), else None."""
        if ref.parts[0] not in ("var", "local") or len(ref.parts) < 3:
            return None
        outer = self._marks.read
        try:
            value = self._variable(ref) if ref.parts[0] == "var" else self._local(ref)
        finally:
            self._marks.read = outer
        for part in ref.parts[2:-1]:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        origin = getattr(value, "params_origin", None)
        return f"{origin[0]}:{origin[1]}{ref.parts[-1]}" if origin and ref.parts[-1] in value else None

    def declared(self, kind: str, name: str, where: Where) -> Any:
        """``local.NAME``, ``var.NAME`` or (kind "output") module output NAME at ``where``, computed once (``value_checks`` asks)."""
        ref = Ref(("module", name) if kind == "output" else (kind, name), None)
        return self._child_output(where.module.path, name, ref) if kind == "output" else self._resolve(ref, None, where)

    def was_sensitive(self, expr: Expr) -> bool:
        """Whether the last evaluation of ``expr`` by this scope read a sensitive value."""
        return id(expr) in self._marked

    def read_sensitive(self) -> bool:  # some expression ``was_sensitive``
        return bool(self._marked)

    def root(self) -> ModuleInstance:
        return self.config.module_instances.get("") or ModuleInstance("", self.config)

    # -- references -------------------------------------------------------------------------
    def _resolve(self, ref: Ref, pipeline: str | None, where: Where | None) -> Any:
        root = ref.parts[0]
        if root == "each" or root == "count":  # first: a for_each body reads them for every instance
            return self._each(ref, where)
        rest = ref.parts[1:]
        module = where.module if where is not None else self.root()
        if root == "var":
            value = self._variable(ref) if module.call is None else self._module_var(ref, module)
            return index_value(value, rest[1:], ref)
        if root == "local":
            value = self._local(ref) if module.call is None else self._module_local(ref, module)
            return index_value(value, rest[1:], ref)
        if root == "step":
            return self._step_output(ref, pipeline, module)
        if root == "resource":
            return self._resource(ref, module)
        if root == "module":
            return self._module_output(ref, module)
        if root == "zplan" and rest[:1] == ("stack",):
            return self.stack
        if root == "path" and rest[:1] in (("root",), ("module",)):
            return "." if rest[0] == "root" else self._folder(where)  # relative, as Terraform's: no machine's folders
        raise static_fail(
            f'unknown reference "{dotted(ref.parts)}"',
            "references start with var., local., step.NAME.outputs., resource.TYPE.NAME., module.NAME., "
            "each., count.index, zplan.stack, path.root or path.module",
            ref.range,
        )

    def _variable(self, ref: Ref) -> Any:
        name = _name(ref, "var", "var.env")
        if name not in self.config.variables:
            raise static_fail(f'reference to undeclared variable "{name}"',
                              f'{diags.did_you_mean(name, self.config.variables, then="or ")}declare it: variable "{name}" {{ default = ... }}', ref.range)
        if self.config.variables[name].sensitive:
            self._marks.read = True
        return self.variables.get(name, UNKNOWN)

    def _local(self, ref: Ref) -> Any:
        name = _name(ref, "local", "local.prefix")
        if name in self._locals:
            self._marks.read |= name in self._sensitive_locals
            return self._locals[name]
        local = self.config.locals.get(name)
        if local is None:
            raise static_fail(f'reference to undeclared local value "{name}"', "declare it inside a locals { } block", ref.range)
        value, sensitive = self._guarded(name, local.range, lambda: self.eval_marked(local.expr))
        self._locals[name] = value
        if sensitive:
            self._sensitive_locals.add(name)
        return value

    def _guarded(self, name: str, where, compute: Callable[[], tuple[Any, bool]]) -> tuple[Any, bool]:
        """Evaluate a named value once at a time (a name met again while computed is a cycle); a failed one fails again alike."""
        if name in self._failed:
            raise self._failed[name]
        # both are mistakes in the configuration itself: try() and can() do not hide them, as in Terraform
        if name in self._evaluating:
            raise self._cycle(self._evaluating.index(name), where)
        if len(self._evaluating) >= MAX_LOCAL_CHAIN:
            raise static_fail(f"a chain of more than {MAX_LOCAL_CHAIN} local values referring to each other is too long",
                              f"{_local_name(self._evaluating[0])} -> ... -> {_local_name(name)}: compute some of them in one expression", where)
        self._evaluating.append(name)
        self._evaluating_at.append(where)
        try:
            return compute()
        except diags.DiagnosticError as exc:
            self._failed[name] = exc
            raise
        finally:
            self._evaluating.pop()
            self._evaluating_at.pop()

    def _cycle(self, start: int, where) -> diags.DiagnosticError:
        names = [_local_name(name) for name in self._evaluating[start:]]
        cycle = " -> ".join(names + [names[0]])
        lines = ", ".join(f"{name} at {at.relative_to(self.config.project_dir)}" for name, at in zip(names, self._evaluating_at[start:]))
        return static_fail(f"values refer to each other in a cycle: {cycle}", f"break the cycle ({lines})", where)

    # -- inside a module ----------------------------------------------------------------------
    def _module_var(self, ref: Ref, module: ModuleInstance) -> Any:
        name = _name(ref, "var", "var.env")
        var = module.config.variables.get(name)
        if var is None:
            raise static_fail(f'reference to undeclared variable "{name}" in {module.path}',
                              f'{diags.did_you_mean(name, module.config.variables, then="or ")}declare it in the module: variable "{name}" {{ }}', ref.range)
        call = module.call
        if name not in call.inputs:
            self._marks.read |= var.sensitive
            default = lambda: (validated_input(var, module_input(var, var.default, module.path, var.range), f"{module.path}, its default"), False)  # noqa: E731
            value = self._module_value(module, "var", name, default, var.range)[0]
            return self._variable_secret(var, value)
        at = Where(module.parent, module.each)
        expr = call.inputs[name]
        value, sensitive = self._module_value(module, "var", name, lambda: self._module_input(var, expr, module, at), expr.range)
        self._marks.read |= sensitive or var.sensitive
        return self._variable_secret(var, value)

    def _variable_secret(self, var, value: Any) -> Any:
        """A module variable's value; a sensitive one's texts join the secrets, as a root variable's do."""
        return add_secret(self.secrets, value, attribute_names(var.type)) if var.sensitive else value

    def _module_input(self, var, expr: Expr, module: ModuleInstance, at: Where) -> tuple[Any, bool]:
        value, sensitive = self.eval_marked(expr, ANY_PIPELINE, at)
        if isinstance(value, (Lazy, InstanceMap)):  # references to instances stay as they are
            return value, sensitive
        value = module_input(var, value, module.path, expr.range)
        checked = dataclasses.replace(var, sensitive=True) if sensitive else var  # its errors never quote a secret it was given
        return validated_input(checked, value, f"{module.path}, set at {expr.range.relative_to(self.config.project_dir)}"), sensitive

    def _module_local(self, ref: Ref, module: ModuleInstance) -> Any:
        name = _name(ref, "local", "local.prefix")
        local = module.config.locals.get(name)
        if local is None:
            raise static_fail(f'reference to undeclared local value "{name}" in {module.path}', "declare it inside a locals { } block of the module", ref.range)
        compute = lambda: self.eval_marked(local.expr, ANY_PIPELINE, Where(module))  # noqa: E731
        value, sensitive = self._module_value(module, "local", name, compute, local.range)
        self._marks.read |= sensitive
        return value

    def _module_value(self, module: ModuleInstance, kind: str, name: str, compute: Callable[[], tuple[Any, bool]], where) -> tuple[Any, bool]:
        """A module's input, local or output, computed once; one met again while computed (reading its own output) is a cycle."""
        key = (module.path, kind, name)
        if key not in self._module_values:
            self._module_values[key] = self._guarded(f"{module.path}.{kind}.{name}", where, compute)
        return self._module_values[key]

    def _module_output(self, ref: Ref, module: ModuleInstance) -> Any:
        parts = ref.parts
        if len(parts) < 2:
            raise diags.fail('"module" must be followed by a module name', "e.g. module.training.model", ref.range)
        base = module.child_path(str(parts[1]))
        found = self._instances_of(base)
        if found is None:
            raise diags.fail(f'reference to undeclared module "{parts[1]}"', f'declare it: module "{parts[1]}" {{ source = "./modules/..." }}', ref.range)
        outputs = self._outputs_of(base, found)
        value = self._instance(found, base, parts, 2, ref, lambda path: self._module_object(path, ref), attributes=outputs)
        return value.complete() if isinstance(value, Lazy) else value  # module.m, module.m["k"]: every output

    def _outputs_of(self, base: str, found) -> Iterable[str]:
        """The output names of a module call's instances (one folder: the same for all); none without instances."""
        first = base + instance_key(found.keys[0]) if found.kind != "single" and found.keys else base
        inst = self.config.module_instances.get(first)
        return inst.config.outputs if inst is not None else ()

    def _module_object(self, path: str, ref: Ref) -> Lazy:
        """A module instance as a value: its outputs, each computed when read (a for expression
        reading one output of every instance reads no other, nor their sensitivity)."""
        self._whole_objects += 1
        return Lazy(lambda out: self._child_output(path, out, ref), lambda: list(self.config.module_instances[path].config.outputs), InstanceRef("module", path))

    def _child_output(self, path: str, name: str, ref: Ref) -> Any:
        child = self.config.module_instances[path]
        output = child.config.outputs.get(name)
        if output is None:
            raise diags.fail(f'{path} has no output "{name}"', f"its outputs are: {', '.join(child.config.outputs) or 'none'}", ref.range)
        value, sensitive = self._module_value(child, "output", name, lambda: self.eval_marked(output.expr, ANY_PIPELINE, Where(child)), output.range)
        self._marks.read |= sensitive or output.sensitive
        return self._secret(value) if output.sensitive else value

    def _each(self, ref: Ref, where: Where | None) -> Any:
        each = where.each if where is not None else None
        counted = each is not None and isinstance(each.key, int)
        if ref.parts[0] == "count":
            if not counted:
                raise diags.fail('"count.index" can be used only in a block with count', "add count = N to the block, or use each.key with for_each", ref.range)
            if ref.parts[1:] != ("index",):
                raise diags.fail(f'"{dotted(ref.parts)}" is not known', "count has one attribute: count.index", ref.range)
            return each.key
        if each is None or counted:
            raise diags.fail(f'"{dotted(ref.parts)}" can be used only in a block with for_each', "add for_each = MAP_OR_SET to the block", ref.range)
        attr = ref.parts[1] if len(ref.parts) > 1 else None
        if attr == "key" and len(ref.parts) == 2:
            return each.key
        if attr == "value":
            return each_value(each, ref, self._resource_object, self._module_object)  # (no new closure per instance)
        raise diags.fail(f'"{dotted(ref.parts)}" is not known', "use each.key or each.value", ref.range)

    # -- steps and resources ------------------------------------------------------------------
    def _step_output(self, ref: Ref, pipeline: str | None, module: ModuleInstance) -> Any:
        parts = ref.parts
        if pipeline is None:
            raise diags.fail(
                f'"{dotted(parts)}" cannot be used here',
                "step outputs can be used only in a step's inputs (or in an output block)",
                ref.range,
            )
        if len(parts) < 2:
            raise diags.fail(f'invalid step reference "{dotted(parts)}"', "write step.NAME.outputs.OUTPUT", ref.range)
        name, declared = str(parts[1]), module.config.pipelines
        if pipeline == ANY_PIPELINE:
            pipeline = next((p for p, pl in declared.items() if name in pl.steps), None)
        if pipeline is None or name not in declared[pipeline].steps:
            where = f'in pipeline "{pipeline}"' if pipeline else "in any pipeline"
            steps = declared[pipeline].steps if pipeline else [s for pl in declared.values() for s in pl.steps]
            raise static_fail(f'reference to undeclared step "{name}" {where}', f"declared steps: {', '.join(steps) or 'none'}", ref.range)
        base = prefixed(module.path, f"pipeline.{pipeline}.step.{name}")
        found = self._instances_of(base)
        prefix = module.path
        if found is None or found.kind == "single":
            return self._step_ref(pipeline, name, parts[2:], prefix, ref)
        keyed = lambda suffix: StepInstance(lambda attr: self._step_ref(pipeline, name + suffix, ("outputs",) if attr == "outputs" else (attr,), prefix, ref), name + suffix)  # noqa: E731
        return self._instance(found, base, parts, 2, ref, lambda addr: keyed(addr[len(base):]), tail=lambda addr, rest: self._step_ref(pipeline, name + addr[len(base):], rest, prefix, ref))

    def _step_ref(self, pipeline: str, name: str, rest: tuple, module: str, ref: Ref) -> Any:
        if rest in (("outputs",), ("outs",)):  # outs["model.pkl"]: a script step's out by path
            return StepOutputs(lambda out: self._step_ref(pipeline, name, (rest[0], out), module, ref), name, rest[0])
        if len(rest) != 2 or rest[0] not in ("outputs", "outs"):
            raise diags.fail(f'invalid step reference "{dotted(ref.parts)}"', 'write step.NAME.outputs.OUTPUT (or step.NAME.outs["PATH"])', ref.range)
        found = StepOutputRef(pipeline, name, str(rest[1]), module)
        if self.step_is_sensitive(found.address):
            self._marks.read = True
        return found

    def _resource(self, ref: Ref, module: ModuleInstance) -> Any:
        parts = ref.parts
        if len(parts) < 3:
            raise diags.fail(f'invalid resource reference "{dotted(parts)}"', "write resource.TYPE.NAME.ATTRIBUTE", ref.range)
        type_, name = str(parts[1]), str(parts[2])
        if f"resource.{type_}.{name}" not in module.config.resources:
            raise static_fail(f'reference to undeclared resource "{type_}.{name}"', f'declare it: resource "{type_}" "{name}" {{ ... }}', ref.range)
        base = prefixed(module.path, f"resource.{type_}.{name}")
        found = self._instances_of(base)
        if found is None or found.kind == "single":
            return self._attribute(base, parts[3:], ref)
        return self._instance(found, base, parts, 3, ref, lambda addr: self._resource_object(addr, ref), tail=lambda addr, rest: self._attribute(addr, rest, ref))

    def _resource_object(self, address: str, ref: Ref) -> Lazy:
        """A resource instance as a value: its attributes, each read (and its sensitivity marked)
        when used; all of them when the value leaves the evaluation whole (an output, a module input)."""
        names = self.resource_names
        if names is None:  # (a scope that cannot list attributes: only the ones read exist)
            return Lazy(lambda attr: self._attribute(address, (attr,), ref), origin=InstanceRef("resource", address))
        self._whole_objects += 1
        return Lazy(lambda attr: self._attribute(address, (attr,), ref), lambda: names(address), InstanceRef("resource", address))

    def _attribute(self, address: str, rest: tuple, ref: Ref) -> Any:
        if not rest:
            return self._resource_object(address, ref)
        value = self.resource_value(address, str(rest[0]))
        if isinstance(value, Sensitive):
            self._marks.read, value = True, self._secret(value.value)
        return index_value(value, rest[1:], ref)

    def keep_secret(self, expr: Expr, value: Any, evaluate: Callable[[Expr], tuple[Any, bool]], public_keys: Iterable[str] = ()) -> None:
        """``expr``, computed from a sensitive value, evaluated to ``value``: see ``secret_values.keep_secret``."""
        keep_secret(self.secrets, expr, value, evaluate, public_keys)

    def _secret(self, value: Any) -> Any:
        return add_secret(self.secrets, value)

    def _instances_of(self, base: str):
        """The instances of the block at ``base`` (None if it has none: not declared)."""
        if self.expand_block is not None:
            self.expand_block(base)
        return self.config.instances.get(base)

    def _instance(self, found, base: str, parts: tuple, at: int, ref: Ref, whole: Callable[[str], Any], tail=None, attributes: Iterable[str] = ()) -> Any:
        """``base`` (all its instances), ``base[KEY]`` or ``base[KEY].rest``, for what ``found`` holds."""
        if found.kind == "single":
            return index_value(whole(base), parts[at:], ref)
        if len(parts) == at:
            if found.kind == "count":
                return [whole(base + instance_key(k)) for k in found.keys]
            return InstanceMap((k, whole(base + instance_key(k))) for k in found.keys)
        key = parts[at]
        if key not in found.keys:
            raise no_instance(found, base, parts, at, ref, attributes)
        address = base + instance_key(key)
        rest = parts[at + 1 :]
        if tail is not None and rest:
            return tail(address, rest)
        return index_value(whole(address), rest, ref)


def _local_name(name: str) -> str:
    return name if "." in name else f"local.{name}"  # a module's locals are named with their path


def _name(ref: Ref, root: str, example: str) -> str:
    if len(ref.parts) < 2:
        raise diags.fail(f'"{root}" must be followed by a name', f"e.g. {example}", ref.range)
    return str(ref.parts[1])


def _module_folder(module: ModuleInstance) -> str:
    from zplan.config.modules import relative_folder  # (a plan of a project calling no module never needs it)
    return relative_folder(module)
