#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Check that a stack of modules depends only downwards (issue 15).

Usage:
  check-layers.py [--root DIR] [--objects SRCDIR=ARCHIVE]... MAP...
  check-layers.py --self-test

A MAP file (tests/layers/client.layers is one; its comment says the format)
lists layers top to bottom, each with its modules (a .c file and its .h,
named by path from the source root without the extension), the directories
it covers and the include path. The check fails when

  - a .c/.h file in a covered directory belongs to no module of the map;
  - a file's `#include "..."` names a module of its own layer or of a layer
    above it (resolved as the compiler would: the including file's
    directory first, then the map's include directories; a name found in
    none of them is outside the stack, e.g. a system or generated header);
  - with --objects: an object of a static archive (as `nm` lists it; the
    object of SRCDIR/x.c is module SRCDIR/x) uses a symbol that a module of
    its own layer or a layer above defines (this also catches calls of
    public psock_* functions, which every module can see through the one
    public header).

Exit status 0 when the stack holds, 1 with one line per violation, 2 for a
malformed map or a missing tool.
"""
import os
import re
import subprocess
import sys
import tempfile

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


class MapError(Exception):
    pass


class LayerMap:
    def __init__(self, path, root):
        self.path = path
        self.root = root
        self.covers = []
        self.include = []
        self.layers = []  # [(name, [module, ...])], top first
        self.rank = {}  # module -> layer index (0 = top)
        self._parse()

    def _parse(self):
        with open(self.path, encoding='utf-8') as f:
            for n, raw in enumerate(f, 1):
                line = raw.split('#', 1)[0].strip()
                if not line:
                    continue
                key, sep, rest = line.partition(':')
                if not sep:
                    raise MapError(f'{self.path}:{n}: expected "key: value"')
                words = rest.split()
                key = key.strip()
                if key == 'covers':
                    self.covers += words
                elif key == 'include':
                    self.include += words
                elif key.startswith('layer '):
                    name = key[len('layer '):].strip()
                    for m in words:
                        if m in self.rank:
                            raise MapError(
                                f'{self.path}:{n}: {m} is in two layers')
                        self.rank[m] = len(self.layers)
                    self.layers.append((name, words))
                else:
                    raise MapError(f'{self.path}:{n}: unknown key "{key}"')
        if not self.layers:
            raise MapError(f'{self.path}: no layers')

    def layer_name(self, module):
        return self.layers[self.rank[module]][0]

    def files(self):
        """Every .c/.h file under the covered directories, root-relative."""
        out = []
        for d in self.covers:
            for dirpath, _, names in os.walk(os.path.join(self.root, d)):
                for name in names:
                    if name.endswith(('.c', '.h')):
                        full = os.path.join(dirpath, name)
                        out.append(os.path.relpath(full, self.root))
        return sorted(out)

    @staticmethod
    def module_of(relpath):
        return os.path.splitext(relpath)[0]

    def resolve(self, including, name):
        """The root-relative file an include names, or None if outside."""
        for d in [os.path.dirname(including)] + self.include:
            cand = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(os.path.join(self.root, cand)):
                return cand
        return None


def check_includes(lm):
    problems = []
    for f in lm.files():
        mod = lm.module_of(f)
        if mod not in lm.rank:
            problems.append(f'{f}: in no layer of {lm.path}')
            continue
        with open(os.path.join(lm.root, f), encoding='utf-8') as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                target = lm.resolve(f, m.group(1))
                if target is None:
                    continue
                tmod = lm.module_of(target)
                if tmod == mod:
                    continue
                if tmod not in lm.rank:
                    problems.append(f'{f}:{n}: includes {target}, '
                                    f'which is in no layer')
                elif lm.rank[tmod] <= lm.rank[mod]:
                    where = ('the same layer' if lm.rank[tmod] == lm.rank[mod]
                             else 'a layer above')
                    problems.append(
                        f'{f}:{n}: {mod} ({lm.layer_name(mod)}) includes '
                        f'{tmod} ({lm.layer_name(tmod)}), {where}')
    return problems


def nm_archive(archive):
    """{member: (defined set, undefined set)} of a static archive."""
    try:
        out = subprocess.run(['nm', '-A', archive], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise MapError(f'nm {archive}: {e}')
    members = {}
    for line in out.splitlines():
        # "archive.a:member.c.o:0000000000000000 T name" or
        # "archive.a:member.c.o:                 U name"
        head, _, rest = line.rpartition(':')
        member = head.split(':')[-1]
        parts = rest.split()
        if len(parts) < 2:
            continue
        kind, sym = parts[-2], parts[-1]
        d, u = members.setdefault(member, (set(), set()))
        if kind == 'U':
            u.add(sym)
        elif kind.isupper():
            d.add(sym)
    return members


def check_objects(lm, srcdir, archive):
    problems = []
    members = nm_archive(archive)
    owner = {}
    mod_of_member = {}
    for member, (defined, _) in members.items():
        mod = os.path.join(srcdir, os.path.basename(member).split('.', 1)[0])
        if mod not in lm.rank:
            problems.append(f'{archive}: object {member} is module {mod}, '
                            f'in no layer of {lm.path}')
            continue
        mod_of_member[member] = mod
        for sym in defined:
            owner[sym] = mod
    for member, (_, undefined) in sorted(members.items()):
        mod = mod_of_member.get(member)
        if not mod:
            continue
        for sym in sorted(undefined):
            tmod = owner.get(sym)
            if tmod and tmod != mod and lm.rank[tmod] <= lm.rank[mod]:
                problems.append(
                    f'{member}: {mod} ({lm.layer_name(mod)}) uses {sym} of '
                    f'{tmod} ({lm.layer_name(tmod)})')
    return problems


def run(maps, root, archives):
    problems = []
    for path in maps:
        lm = LayerMap(path, root)
        problems += check_includes(lm)
        for srcdir, a in archives:
            problems += check_objects(lm, srcdir, a)
    return problems


def self_test():
    """The check must see what it is for: an include that goes up."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, 'lib'))

        def write(name, text):
            with open(os.path.join(root, name), 'w', encoding='utf-8') as f:
                f.write(text)

        write('layers', 'covers: lib\ninclude: lib\n'
              'layer top: lib/top\nlayer mid: lib/a lib/b\n'
              'layer low: lib/low\n')
        write('lib/top.c', '#include "a.h"\n#include "low.h"\n')
        write('lib/a.h', '#include "low.h"\n#include <stdio.h>\n')
        write('lib/a.c', '#include "a.h"\n#include "config.h"\n')
        write('lib/b.c', '#include "low.h"\n')
        write('lib/low.h', '')
        write('lib/low.c', '#include "low.h"\n')
        maps = [os.path.join(root, 'layers')]
        if run(maps, root, []):
            return 'a well-ordered stack was refused'
        cases = {
            'lib/low.c': 'includes lib/a (mid), a layer above',
            'lib/b.c': 'includes lib/a (mid), the same layer',
        }
        for f, want in cases.items():
            write(f, '#include "a.h"\n')
            found = run(maps, root, [])
            if not any(want in p for p in found):
                return f'{f} including a.h: want "{want}", got {found}'
            write(f, '#include "low.h"\n')
        write('lib/stray.c', '')
        if not any('in no layer' in p for p in run(maps, root, [])):
            return 'a file in no layer was not reported'
    return None


def main(argv):
    root = os.getcwd()
    archives = []
    maps = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--self-test':
            err = self_test()
            if err:
                print(f'check-layers self-test: {err}', file=sys.stderr)
                return 1
            print('check-layers self-test: ok')
            return 0
        if a == '--root' and args:
            root = args.pop(0)
        elif a == '--objects' and args and '=' in args[0]:
            archives.append(tuple(args.pop(0).split('=', 1)))
        elif a.startswith('-'):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            maps.append(a)
    if not maps:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        problems = run(maps, root, archives)
    except (MapError, OSError) as e:
        print(f'check-layers: {e}', file=sys.stderr)
        return 2
    for p in problems:
        print(p)
    sys.stdout.flush()
    if problems:
        print(f'check-layers: {len(problems)} problems with the '
              f'order of {", ".join(maps)}', file=sys.stderr)
        return 1
    print(f'check-layers: {", ".join(maps)}: every dependency goes down')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
