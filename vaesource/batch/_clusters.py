"""Clusters of sources across subjects: the array kernel of the group map.

:func:`cluster_sources` works on positions (mm) and subject labels only;
:mod:`vaesource.batch.group` reads the subjects' outputs, calls it and
writes the tables.

The rule (greedy around the densest point, each subject counted once):

1. For every source not yet in a cluster, count the *subjects* that have a
   free source within ``radius`` of it (its own subject included).
2. The source with the largest count seeds a cluster (ties: the larger
   weight, e.g. the evidence, then the first in the input order).
3. The cluster takes, from each subject with a free source within
   ``radius`` of the seed, the one nearest to the seed: one source per
   subject. A subject's other sources near the seed stay free and may seed
   or join a later cluster.
4. Repeat until every source is in a cluster (a lone source is a cluster
   of one subject).

Every member lies within ``radius`` of its seed, so two members are at
most ``2 * radius`` apart. Unlike single linkage, the rule cannot chain
sources of a long row of subjects into one elongated cluster, and a
cluster never counts a subject twice. Clusters found in fewer than
``min_subjects`` subjects are dropped by the caller.
"""

from __future__ import annotations

import numpy as np


def cluster_sources(pos, subjects, radius, *, weights=None):
    """Group sources of different subjects lying within ``radius``.

    Parameters
    ----------
    pos : array, shape (n_sources, 3)
        Source positions in one frame (mm).
    subjects : array-like of str, shape (n_sources,)
        The subject of each source.
    radius : float
        Largest distance (mm) of a member from its cluster's seed.
    weights : array, shape (n_sources,) | None
        Breaks ties between seeds of equal subject count (larger first;
        NaN counts as the smallest). None: input order only.

    Returns
    -------
    labels : array of int, shape (n_sources,)
        Cluster index of each source, 0 for the first cluster found (the
        most subjects), ``-1`` for none (only with no sources).
    seeds : array of int, shape (n_clusters,)
        Index of each cluster's seed source.
    """
    from scipy.spatial import cKDTree

    pos = np.asarray(pos, float).reshape(-1, 3)
    subjects = np.asarray(subjects, dtype=object)
    n = len(pos)
    if subjects.shape != (n,):
        raise ValueError(f"subjects must have one entry per source ({n}), got "
                         f"shape {subjects.shape}.")
    if weights is None:
        weights = np.zeros(n)
    weights = np.nan_to_num(np.asarray(weights, float), nan=-np.inf)
    _, subj = np.unique(subjects.astype(str), return_inverse=True)
    subj = subj.reshape(-1)
    # neighbour lists, not an n x n matrix: a large study has thousands of
    # sources
    tree = cKDTree(pos) if n else None
    near = [np.asarray(nb, int) for nb in tree.query_ball_point(pos, radius)] \
        if n else []
    # per source: free sources of each subject within the radius, kept up to
    # date as sources join clusters, and the number of subjects among them
    count = [dict() for _ in range(n)]
    for i in range(n):
        for j in near[i]:
            count[i][subj[j]] = count[i].get(subj[j], 0) + 1
    n_subj = np.array([len(c) for c in count])
    labels = np.full(n, -1, int)
    seeds = []
    free = np.ones(n, bool)
    order = np.arange(n)
    while free.any():
        key = np.where(free, n_subj, -1)
        # most subjects, then the largest weight, then the input order
        seed = int(np.lexsort((order, -weights, -key))[0])
        cand = near[seed][free[near[seed]]]
        d = np.linalg.norm(pos[cand] - pos[seed], axis=1)
        members = []
        for s in np.unique(subj[cand]):
            mine = subj[cand] == s
            members.append(int(cand[mine][np.argmin(d[mine])]))
        for m in members:
            free[m] = False
            s = subj[m]
            for i in near[m]:
                count[i][s] -= 1
                if not count[i][s]:
                    del count[i][s]
                    n_subj[i] -= 1
        labels[members] = len(seeds)
        seeds.append(seed)
    return labels, np.array(seeds, int)


def cluster_spread(pos):
    """Root-mean-square distance (mm) of positions from their mean.

    Parameters
    ----------
    pos : array, shape (n, 3)

    Returns
    -------
    mean : array, shape (3,)
    spread : float
    """
    pos = np.asarray(pos, float).reshape(-1, 3)
    mean = pos.mean(axis=0)
    return mean, float(np.sqrt(np.mean(np.sum((pos - mean) ** 2, axis=1))))
