"""deploy.env <-> template.yaml's parameters, for scripts/deploy.sh.

overrides TEMPLATE ENV: prints the stack name, the region, then one Name=Value per
    parameter set in ENV (refusing names the template does not have, and values outside
    AllowedValues), as `sam build` and `sam deploy` take them.
guided TEMPLATE ENV: asks for every parameter (description, allowed values, current
    value), then writes ENV.
"""
import re
import sys


def parameters(template_path):
    """Parameter name -> (default, description, allowed values), read without a YAML
    library (the template's Parameters block is plain YAML)."""
    params, current, in_block = {}, None, False
    for line in open(template_path):
        if re.match(r"^Parameters:\s*$", line):
            in_block = True
            continue
        if in_block and re.match(r"^\S", line):
            break
        if not in_block:
            continue
        m = re.match(r"^  (\w+):\s*$", line)
        if m:
            current = m.group(1)
            params[current] = {"Default": "", "Description": "", "AllowedValues": None}
            continue
        m = re.match(r"^    (Default|Description|AllowedValues):\s*(.*)$", line)
        if m and current:
            key, value = m.groups()
            value = value.strip()
            if key == "AllowedValues":
                params[current][key] = [v.strip().strip('"') for v in value.strip("[]").split(",")]
            else:
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                    value = value[1:-1]
                params[current][key] = value
    return params


def read_env(path):
    values = {}
    try:
        open(path).close()
    except FileNotFoundError:
        return values
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            sys.exit(f"{path}:{n}: not NAME=VALUE: {line}")
        k, v = line.split("=", 1)
        values[k.strip()] = v.strip()
    return values


def overrides(template, env):
    params = parameters(template)
    values = read_env(env)
    stack = values.pop("STACK_NAME", "url-shortener")
    region = values.pop("REGION", "us-east-1")
    print(stack)
    print(region)
    for k, v in values.items():
        if k not in params:
            sys.exit(f"{env}: {k} is not a parameter of {template}")
        allowed = params[k]["AllowedValues"]
        if allowed and v not in allowed:
            sys.exit(f"{env}: {k}={v} is not one of {allowed}")
        print(f"{k}={v}")


def guided(template, env):
    params = parameters(template)
    values = read_env(env)
    order = ["STACK_NAME", "REGION"] + list(params)
    for name in order:
        if name == "STACK_NAME":
            p = {"Default": "url-shortener", "Description": "the CloudFormation stack's name",
                 "AllowedValues": None}
        elif name == "REGION":
            p = {"Default": "us-east-1", "Description": "the AWS region to deploy to",
                 "AllowedValues": None}
        else:
            p = params[name]
        now = values.get(name, p["Default"])
        print(f"\n{name}: {p['Description']}")
        if p["AllowedValues"]:
            print(f"  one of: {', '.join(p['AllowedValues'])}")
        answer = input(f"  [{now}] ").strip()
        values[name] = answer or now
    with open(env, "w") as f:
        f.write("# Written by make deploy GUIDED=1; make deploy passes every line to sam build and sam deploy.\n")
        for name in order:
            if name in ("STACK_NAME", "REGION") or values[name] != params[name]["Default"]:
                f.write(f"{name}={values[name]}\n")
    print(f"\nsaved {env}")


if __name__ == "__main__":
    {"overrides": overrides, "guided": guided}[sys.argv[1]](sys.argv[2], sys.argv[3])
