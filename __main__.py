"""The batchwords Pulumi program: `pulumi up` / `pulumi destroy` on a stack."""

import pulumi

from infra import config as stack_config
from infra.program import build, find_wheel

for name, value in build(stack_config.load(), find_wheel()).items():
    pulumi.export(name, value)
