"""The template as CloudFormation reads it: template.yaml translated by aws-sam-translator
(pinned, the SAM CLI's own) into plain CloudFormation, then checked for what CloudFormation
refuses at deploy and the linters miss, because SAM moves properties into places they do
not read (an HTTP API's OpenAPI body):

- a condition function (Fn::Equals, Fn::And, Fn::Or, Fn::Not) anywhere outside Conditions
  and Rules, request bodies included;
- an Fn::If or a Condition that names no defined condition;
- a Ref, Fn::GetAtt or ${...} of Fn::Sub that is no parameter, pseudo parameter or
  resource (after translation: SAM's generated resources count, e.g. a default stage);
- a parameter default outside its AllowedValues, AllowedPattern or Min/MaxValue, and a
  Rules assertion that the defaults break (the default deploy would be refused).

Usage: check-template.py TEMPLATE OUT.json   (writes the translated template for cfn-lint)
       check-template.py --self-test TEMPLATE  (today's checks catch the known mistakes)
"""

import copy
import json
import re
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PSEUDO = {
    "AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
    "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix",
}
CONDITION_FUNCTIONS = {"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not"}


class NoManagedPolicies:
    """The template names no managed policy by name; nothing to look up (no AWS account)."""

    def load(self):
        return {}


def translate(template):
    """What CloudFormation receives from `sam deploy`: the packaged template (local code
    replaced by the S3 object it uploads) with SAM's transform applied."""
    t = copy.deepcopy(template)
    t.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://bucket/code.zip"
    for res in t.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function" and "CodeUri" in res.get("Properties", {}):
            res["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return transform(t, {}, NoManagedPolicies())


def walk(node, path, visit):
    visit(node, path)
    if isinstance(node, dict):
        for k, v in node.items():
            walk(v, path + [str(k)], visit)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, path + [str(i)], visit)


def check(cfn):
    errors = []
    params = cfn.get("Parameters", {})
    resources = cfn.get("Resources", {})
    conditions = cfn.get("Conditions", {})
    known = set(params) | set(resources) | PSEUDO

    def visit(node, path):
        if not isinstance(node, dict) or len(node) != 1:
            return
        (key, value), = node.items()
        where = "/".join(path)
        if key in CONDITION_FUNCTIONS and path[0] not in ("Conditions", "Rules"):
            errors.append(f"{where}: {key} outside Conditions (CloudFormation evaluates it nowhere else)")
        if key == "Fn::If":
            name = value[0] if isinstance(value, list) and value else None
            if name not in conditions:
                errors.append(f"{where}: Fn::If names no defined condition: {name!r}")
        if key == "Condition" and path[0] == "Conditions" and value not in conditions:
            errors.append(f"{where}: Condition names no defined condition: {value!r}")
        if key == "Ref" and path[0] != "Rules" and value not in known:
            errors.append(f"{where}: Ref to nothing: {value!r}")
        if key == "Fn::GetAtt":
            target = value[0] if isinstance(value, list) else str(value).split(".")[0]
            if target not in resources:
                errors.append(f"{where}: Fn::GetAtt of no resource: {target!r}")
        if key == "Fn::Sub":
            text, names = (value[0], value[1]) if isinstance(value, list) else (value, {})
            for ref in re.findall(r"\$\{([^!}][^}]*)\}", text):
                base = ref.split(".")[0]
                if ref not in names and base not in names and ref not in known and base not in resources:
                    errors.append(f"{where}: Fn::Sub of nothing: ${{{ref}}}")

    walk(cfn, [], visit)
    for name, res in resources.items():
        cond = res.get("Condition")
        if cond is not None and cond not in conditions:
            errors.append(f"Resources/{name}: Condition names no defined condition: {cond!r}")
        for dep in [res["DependsOn"]] if isinstance(res.get("DependsOn"), str) else res.get("DependsOn", []):
            if dep not in resources:
                errors.append(f"Resources/{name}: DependsOn names no resource: {dep!r}")
    for name, out in cfn.get("Outputs", {}).items():
        cond = out.get("Condition")
        if cond is not None and cond not in conditions:
            errors.append(f"Outputs/{name}: Condition names no defined condition: {cond!r}")
    errors += check_defaults(params, cfn.get("Rules", {}))
    errors += check_roles(resources)
    return errors


def check_roles(resources):
    """Least privilege: no role may write logs everywhere (SAM's generated role attaches
    AWSLambdaBasicExecutionRole, logs on "*"), nor use an action on every resource."""
    errors = []
    for name, res in resources.items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::IAM::RolePolicy":
            # A policy of its own (the ask function's Bedrock model, on a condition).
            props = {"Policies": [props]}
        elif res.get("Type") != "AWS::IAM::Role":
            continue
        for arn in props.get("ManagedPolicyArns", []):
            if "AWSLambdaBasicExecutionRole" in json.dumps(arn):
                errors.append(f"Resources/{name}: AWSLambdaBasicExecutionRole (logs on every log group)")
        for policy in props.get("Policies", []):
            for st in policy.get("PolicyDocument", {}).get("Statement", []):
                resource = st.get("Resource")
                if resource == "*" or (isinstance(resource, list) and "*" in resource):
                    errors.append(f"Resources/{name}: {st.get('Action')} on every resource")
    return errors


def check_defaults(params, rules):
    errors = []
    defaults = {}
    for name, p in params.items():
        if "Default" not in p:
            continue
        d = p["Default"]
        defaults[name] = str(d)
        allowed = p.get("AllowedValues")
        if allowed is not None and str(d) not in [str(a) for a in allowed]:
            errors.append(f"Parameters/{name}: default {d!r} not in AllowedValues {allowed}")
        pattern = p.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, str(d)):
            errors.append(f"Parameters/{name}: default {d!r} does not match AllowedPattern")
        if p.get("Type") == "Number":
            if "MinValue" in p and float(d) < float(p["MinValue"]):
                errors.append(f"Parameters/{name}: default {d} below MinValue")
            if "MaxValue" in p and float(d) > float(p["MaxValue"]):
                errors.append(f"Parameters/{name}: default {d} above MaxValue")
    values = dict(defaults, **{"AWS::Region": "us-east-1"})

    def ev(node):
        if isinstance(node, dict) and len(node) == 1:
            (k, v), = node.items()
            if k == "Ref":
                if v not in values:
                    raise KeyError(f"Ref {v!r} has no default")
                return values[v]
            if k == "Fn::Equals":
                return str(ev(v[0])) == str(ev(v[1]))
            if k == "Fn::Not":
                return not ev(v[0])
            if k == "Fn::And":
                return all(ev(x) for x in v)
            if k == "Fn::Or":
                return any(ev(x) for x in v)
            if k == "Fn::Contains":
                return str(ev(v[1])) in [str(ev(x)) for x in v[0]]
            raise KeyError(f"{k} is not a Rules function")
        return node

    for name, rule in rules.items():
        try:
            if "RuleCondition" in rule and not ev(rule["RuleCondition"]):
                continue
            for i, a in enumerate(rule.get("Assertions", [])):
                if not ev(a["Assert"]):
                    errors.append(f"Rules/{name}/Assertions/{i}: fails with the defaults")
        except KeyError as e:
            errors.append(f"Rules/{name}: {e}")
    return errors


def load(path):
    with open(path) as f:
        return yaml_parse(f.read())


def self_test(path):
    """The checks catch the mistakes found in the template before they were fixed."""
    original = load(path)
    failures = 0

    def expect(label, mutate, needle):
        nonlocal failures
        t = copy.deepcopy(original)
        mutate(t)
        found = [e for e in check(translate(t)) if needle in e]
        print(("ok   " if found else "FAIL ") + label + (f": {found[0]}" if found else ""))
        failures += 0 if found else 1

    def old_line(t):
        # The template as it was: a condition function where SAM copies it into the body.
        t["Resources"]["HttpApi"]["Properties"]["DisableExecuteApiEndpoint"] = {
            "Fn::Equals": [{"Ref": "DisableExecuteApiEndpoint"}, "true"]}

    expect("a condition function in an HTTP API property (inside the OpenAPI body)", old_line,
           "Fn::Equals outside Conditions")
    expect("an Fn::If of an undefined condition",
           lambda t: t["Resources"]["HttpApi"]["Properties"].update(
               DisableExecuteApiEndpoint={"Fn::If": ["NoSuchCondition", True, False]}),
           "names no defined condition")
    expect("a Ref to nothing",
           lambda t: t["Outputs"]["TableName"].update(Value={"Ref": "NoSuchThing"}),
           "Ref to nothing")
    expect("a Sub of nothing",
           lambda t: t["Outputs"]["TableName"].update(Value={"Fn::Sub": "${NoSuch.Arn}"}),
           "Fn::Sub of nothing")
    expect("a default outside AllowedValues",
           lambda t: t["Parameters"]["LogLevel"].update(Default="WARN"),
           "not in AllowedValues")
    expect("a rule the defaults break",
           lambda t: t["Parameters"]["DisableExecuteApiEndpoint"].update(Default="true"),
           "fails with the defaults")
    errors = check(translate(original))
    print(("ok   " if not errors else "FAIL ") + "the template itself passes" + "".join("\n  " + e for e in errors))
    failures += 1 if errors else 0
    return failures


def main():
    if sys.argv[1] == "--self-test":
        sys.exit(1 if self_test(sys.argv[2]) else 0)
    template, out = sys.argv[1], sys.argv[2]
    cfn = translate(load(template))
    with open(out, "w") as f:
        json.dump(cfn, f, indent=1)
    errors = check(cfn)
    for e in errors:
        print("error: " + e)
    print(f"{template} translated ({len(cfn.get('Resources', {}))} resources) -> {out}: "
          f"{len(errors)} CloudFormation errors")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
