"""PyTorch CPU timing of one GLASS training iteration from backbone taps (embedding of the true
and LAS taps, projection, 20 GAS steps with truncations, LAS projection, mining, focal + BCE,
backward, Adam/AdamW), the native reference for `npm run bench -- glass`. Reuses the modules and
the embedding of test/fixtures/gen/glass_ref.py (the parity fixture's independent PyTorch
implementation of the reference). Spec on stdin (JSON): {batch, taps: [[C, H, W], ...], P, D, H,
step, svd, runs}; prints {"ms": [...], "torch": version}. Thread count: OMP_NUM_THREADS etc. are
set by the caller before this process starts (Debian's OpenBLAS ignores set_num_threads)."""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'gen'))
from glass_ref import Projection, Discriminator, init_like_reference, embed, focal_loss, bce  # noqa: E402


def iteration(spec, proj, disc, proj_opt, dsc_opt, taps_true, taps_aug, mask_s, c):
    P, D = spec['P'], spec['D']
    b = spec['batch']
    dsc_opt.zero_grad()
    proj_opt.zero_grad()
    with torch.no_grad():
        emb_aug, _ = embed(taps_aug, P, D)
        emb_true, _ = embed(taps_true, P, D)
    fake_feats = proj(emb_aug)
    true_feats = proj(emb_true)
    N = true_feats.shape[0]
    mask = mask_s.reshape(-1, 1)
    gaus = true_feats + torch.randn(true_feats.shape) * 0.015
    center = c.repeat(b, 1, 1).reshape(-1, D)
    normal = mask[:, 0] == 0
    pts = torch.cat([fake_feats[normal], true_feats], dim=0)
    cts = torch.cat([center[normal], center], dim=0)
    r_t = torch.tensor([torch.quantile(torch.norm(pts - cts, dim=1), q=0.75)])
    for step in range(spec['step'] + 1):
        scores = disc(torch.cat([true_feats, gaus]))
        true_scores, gaus_scores = scores[:N], scores[N:]
        bce_loss = bce(true_scores, torch.zeros_like(true_scores)) + bce(gaus_scores, torch.ones_like(gaus_scores))
        if step == spec['step']:
            break
        gaus_loss = bce(gaus_scores, torch.ones_like(gaus_scores))
        grad = torch.autograd.grad(gaus_loss, [gaus])[0]
        with torch.no_grad():
            gaus.add_(0.001 * grad / (torch.norm(grad, dim=1).view(-1, 1) + 1e-10))
        if (step + 1) % 5 == 0:
            dist_g = torch.norm(gaus - center, dim=1)
            alpha = torch.clamp(dist_g, r_t, 2 * r_t)
            gaus = center + (alpha / (dist_g + 1e-10)).view(-1, 1) * (gaus - center)
    anomalous = mask[:, 0] == 1
    fake_pts = fake_feats[anomalous]
    c_f = center[anomalous]
    dist_f = torch.norm(fake_pts - c_f, dim=1)
    alpha = torch.clamp(dist_f, 2 * r_t, 4 * r_t)
    fake_feats[anomalous] = c_f + (alpha / (dist_f + 1e-10)).view(-1, 1) * (fake_pts - c_f)
    fake_scores = disc(fake_feats)
    fake_dist = (fake_scores - mask) ** 2
    hard = fake_dist >= torch.quantile(fake_dist, q=0.5)
    fs = fake_scores[hard].unsqueeze(1)
    loss = bce_loss + focal_loss(torch.cat([1 - fs, fs], dim=1), mask[hard].unsqueeze(1))
    loss.backward()
    proj_opt.step()
    dsc_opt.step()


def main():
    spec = json.load(sys.stdin)
    torch.manual_seed(0)
    b = spec['batch']
    taps_true = [torch.randn(b, c, h, w).abs() for c, h, w in spec['taps']]
    taps_aug = [t + 0.1 * torch.randn(t.shape).abs() for t in taps_true]
    h0, w0 = spec['taps'][0][1], spec['taps'][0][2]
    mask_s = (torch.rand(b, h0, w0) < 0.15).float()
    proj = Projection(spec['D'])
    disc = Discriminator(spec['D'], spec['H'])
    init_like_reference(proj)
    init_like_reference(disc)
    proj_opt = torch.optim.Adam(proj.parameters(), 1e-4, weight_decay=1e-5)
    dsc_opt = torch.optim.AdamW(disc.parameters(), lr=2e-4)
    with torch.no_grad():
        e, _ = embed(taps_true, spec['P'], spec['D'])
        c = proj(e).reshape(b, -1, spec['D']).mean(0)
    ms = []
    for i in range(spec.get('runs', 2) + 1):
        t0 = time.perf_counter()
        iteration(spec, proj, disc, proj_opt, dsc_opt, taps_true, taps_aug, mask_s, c)
        if i > 0:  # the first call warms up
            ms.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({'ms': ms, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
