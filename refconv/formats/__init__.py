"""Problems as other tools write them: oneDNN's benchdnn descriptors and MIOpenDriver command lines.

:func:`problem` reads one (``refconv check --problem``, ``refconv explain --problem``),
:func:`problems` a file of them (``refconv conform BACKEND --problems FILE``); each is a
:class:`Problem`, a refconv case with what the tool said of it.
"""

from refconv.formats import benchdnn, miopen
from refconv.formats.problem import DIRECTIONS, Problem
from refconv.formats.read import problem, problems

__all__ = ["DIRECTIONS", "Problem", "benchdnn", "miopen", "problem", "problems"]
