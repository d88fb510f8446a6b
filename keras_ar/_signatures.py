"""What `help()` shows for classes whose arguments a base or mixin takes.

A layer's Keras weight arguments (`WeightedLayer`) and the arguments that
families share (`MADENetwork`, `TransformerArgs`, the text base) reach the
class that takes them through `**kwargs`, so the family's own signature does
not name them. `__signature__` puts them back for `help()`,
`inspect.signature` and IDEs: the constructor's own parameters, then the
passed-on ones as keyword-only.
"""

import inspect


def show_passed_on(cls, passed_on):
    """Sets `cls.__signature__`: `cls.__init__`'s parameters, then those of
    `passed_on` (keyword `inspect.Parameter`s) it does not name itself."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return cls
    own = [p for p in params if p.kind != p.VAR_KEYWORD]
    var_kw = [p for p in params if p.kind == p.VAR_KEYWORD]
    names = {p.name for p in own}
    extra = []
    for p in passed_on:
        if p.name not in names:
            names.add(p.name)
            extra.append(p.replace(kind=p.KEYWORD_ONLY))
    cls.__signature__ = inspect.Signature(own + extra + var_kw)
    return cls


def shows_arguments_of(*inits):
    """Class decorator: `help(cls)` also lists the optional arguments of
    `inits` (a mixin's or base's `__init__`) that `cls` passes on."""

    def decorate(cls):
        passed_on = [
            p
            for init in inits
            for p in list(inspect.signature(init).parameters.values())[1:]
            if p.default is not p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        return show_passed_on(cls, passed_on)

    return decorate
