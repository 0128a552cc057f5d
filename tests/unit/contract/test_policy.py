"""The code policy: a table of sources it accepts and rejects, known escapes included."""

from __future__ import annotations

import textwrap

import pytest

from scenefarm_contract.policy import MAX_SOURCE_BYTES, check_code


def scene(body: str, header: str = "from manim import *") -> str:
    """A scene class `Intro` whose construct() runs `body`."""
    return f"{header}\n\nclass Intro(Scene):\n    def construct(self):\n" + textwrap.indent(
        textwrap.dedent(body).strip() or "pass", "        "
    )


ACCEPTED = {
    "plain scene": scene("self.play(Create(Circle()))"),
    "numpy and math": scene(
        "self.wait(math.sqrt(np.pi))", "from manim import *\nimport math\nimport numpy as np"
    ),
    "random and colorsys": scene(
        "r, g, b = colorsys.hsv_to_rgb(random.random(), 1, 1)\nself.add(Dot(color=rgb_to_color([r, g, b])))",
        "from manim import *\nimport random\nimport colorsys",
    ),
    "rate functions submodule": scene(
        "self.play(FadeIn(Square()), rate_func=smooth)",
        "from manim import *\nfrom manim.utils.rate_functions import smooth",
    ),
    "moving camera attribute": "from manim import *\n\nclass Intro(MovingCameraScene):\n"
    "    def construct(self):\n        self.play(self.camera.frame.animate.scale(0.5))\n",
    "helper base class": "from manim import *\n\nclass Base(ThreeDScene):\n    pass\n\n"
    "class Intro(Base):\n    def construct(self):\n        self.wait()\n",
    "qualified base": "import manim\n\nclass Intro(manim.Scene):\n    def construct(self):\n        self.wait()\n",
    "dataclass and enum": scene(
        "self.wait()",
        "from manim import *\nfrom dataclasses import dataclass\nfrom enum import Enum\n"
        "@dataclass\nclass Step:\n    label: str\nclass Kind(Enum):\n    A = 1",
    ),
    "itertools and functools": scene(
        "for a, b in itertools.pairwise(range(3)):\n    self.wait(functools.reduce(max, [a, b]) + 0.1)",
        "from manim import *\nimport itertools\nimport functools",
    ),
    "main guard": scene("self.wait()") + '\n\nif __name__ == "__main__":\n    Intro().render()\n',
    "text with ordinary words": scene('self.play(Write(Text("The OS of a cart: system of forces")))'),
    "type annotations": "from __future__ import annotations\nfrom manim import *\nimport typing\n\n"
    "def dots(n: int, color: typing.Optional[str] = None) -> list[Dot] | None:\n    return [Dot() for _ in range(n)]\n\n"
    "class Intro(Scene):\n    def construct(self) -> None:\n        shown: VGroup = VGroup(*dots(3))\n"
    "        self.add(shown)\n",
}

REJECTED = {
    "syntax error": ("class Intro(Scene)\n  pass", "syntax error"),
    "missing class": (scene("self.wait()").replace("Intro", "Other"), "no top-level class named 'Intro'"),
    "not a scene": ("from manim import *\nclass Intro(VGroup):\n    pass\n", "must subclass a Manim scene"),
    "nested class only": (
        "from manim import *\ndef f():\n    class Intro(Scene):\n        pass\n",
        "no top-level",
    ),
    "import os": (scene("self.wait()", "from manim import *\nimport os"), "import of 'os'"),
    "from subprocess": (
        scene("run(['id'])", "from manim import *\nfrom subprocess import run"),
        "'subprocess'",
    ),
    "import sys as alias": (scene("self.wait()", "from manim import *\nimport sys as s"), "import of 'sys'"),
    "relative import": (scene("self.wait()", "from manim import *\nfrom . import x"), "relative imports"),
    "manim utils subprocess escape": (scene("utils.tex_file_writing.subprocess.run(['id'])"), "'utils'"),
    "manim tex_file_writing import": (
        scene("self.wait()", "from manim import *\nfrom manim.utils.tex_file_writing import subprocess"),
        "manim.utils.tex_file_writing",
    ),
    "star import of a manim internal": (
        scene("self.wait()", "from manim import *\nfrom manim.utils.commands import *"),
        "manim.utils.commands",
    ),
    "manim capture runs commands": (scene("capture(['sh', '-c', 'id'])"), "'capture'"),
    "manim internals module": (scene("mobject.text.tex_mobject.Tex"), "'mobject'"),
    "numpy os attribute": (scene("np.os.system('id')"), "'.os'"),
    "numpy f2py": (scene("np.f2py.compile('x')"), "'.f2py'"),
    "numpy load unpickles": (scene("np.load('x.npy', allow_pickle=True)"), "'.load'"),
    "eval": (scene("eval('1')"), "'eval'"),
    "exec": (scene("exec('x = 1')"), "'exec'"),
    "compile": (scene("compile('1', 'f', 'eval')"), "'compile'"),
    "open": (scene("open('/etc/passwd').read()"), "'open'"),
    "__import__": (scene("__import__('os')"), "'__import__'"),
    "getattr": (scene("getattr(np, 'o' + 's')"), "'getattr'"),
    "setattr": (scene("setattr(self, 'x', 1)"), "'setattr'"),
    "globals": (scene("globals()['x'] = 1"), "'globals'"),
    "vars": (scene("vars(np)"), "'vars'"),
    "breakpoint": (scene("breakpoint()"), "'breakpoint'"),
    "dunder class walk": (scene("().__class__.__base__.__subclasses__()"), "'.__class__'"),
    "underscore attribute": (scene("np._core"), "'._core'"),
    "dunder builtins name": (scene("__builtins__"), "dunder names"),
    "format string reflection": (scene("'{0.__globals__}'.format(self.construct)"), "'__'"),
    "keyword smuggles the tex compiler": (scene("MathTex('x', tex_compiler='sh')"), "'tex_compiler'"),
    "dict smuggles the tex compiler": (scene("MathTex('x', **{'tex_compiler': 'sh'})"), "'tex_compiler'"),
    "custom tex template": (scene("TexTemplate(tex_compiler='sh')"), "'TexTemplate'"),
    "manim config": (scene("config.media_dir = '/'"), "'config'"),
    "typing evaluates strings": (
        scene("typing.get_type_hints(self.construct)", "from manim import *\nimport typing"),
        "'.get_type_hints'",
    ),
    "file writer": (scene("self.renderer.file_writer"), "'.file_writer'"),
    # singledispatch.register calls typing.get_type_hints, which evaluates the string as code
    "a string annotation built by concatenation": (
        "from manim import *\nfrom functools import singledispatch\n\n@singledispatch\ndef g(x): pass\n\n"
        "def h(x: \"(_\" + \"_import_\" + \"_('o'+'s').system('id'), int)[1]\"): pass\n\ng.register(h)\n"
        + scene("self.wait()", ""),
        "annotations may only name types (a string found)",
    ),
    "a string return annotation": (
        "from manim import *\n\ndef f() -> 'int':\n    return 1\n" + scene("self.wait()", ""),
        "annotations may only name types (a string found)",
    ),
    "a call in an annotation": (
        "from manim import *\n\nlimit: max(1, 2) = 3\n" + scene("self.wait()", ""),
        "annotations may only name types (an expression found)",
    ),
    "numpy reads a file by regex": (
        scene(
            "np.fromregex('/proc/self/environ', '(.*)', [('v', 'U99')])",
            "from manim import *\nimport numpy as np",
        ),
        "'.fromregex'",
    ),
    "numpy opens a file or URL": (
        scene(
            "np.DataSource(None).open('/proc/1/environ').read()", "from manim import *\nimport numpy as np"
        ),
        "'.DataSource'",
    ),
    "too large": ("# " + "x" * MAX_SOURCE_BYTES + "\n" + scene("self.wait()"), "limit is 65536 bytes"),
}


@pytest.mark.parametrize("source", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_ordinary_scene_code_is_accepted(source: str) -> None:
    assert check_code(source, "Intro") == []


@pytest.mark.parametrize(("source", "reason"), REJECTED.values(), ids=REJECTED.keys())
def test_unsafe_or_broken_code_is_rejected_with_a_reason(source: str, reason: str) -> None:
    violations = check_code(source, "Intro")

    assert any(reason in v for v in violations), violations


def test_violations_name_their_line_and_are_not_repeated() -> None:
    source = scene("x = eval('1') + eval('2')\nself.wait(open('f'))")

    violations = check_code(source, "Intro")

    assert violations == [
        "line 5: the name 'eval' is not allowed in scene code",
        "line 6: the name 'open' is not allowed in scene code",
    ]


def test_the_policy_module_does_not_import_manim() -> None:
    import subprocess
    import sys

    probe = "import sys, scenefarm_contract.policy; print('manim' in sys.modules, 'av' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert done.stdout.strip() == "False False"
