// Host check of gemm_wgmma.cu's warp-specialised block (gemm_ws): its synchronisation protocol, run as a model
// under random interleavings. The copier and the threads of the two multiplying warpgroups are agents executing the
// kernel's sequence of waits, copies, signals and wgmma batches (the same loops, stage and parity functions and
// WsCfg as the kernel), over emulated mbarriers (arrival count, phase; a parity wait completes when the current
// phase has the other parity, as mbarrier.try_wait.parity), named barriers (bar.sync / bar.arrive with a thread
// count), cp.async groups that land at random times in order, TMA copies that land at random times in any order
// and count down their barrier's expected bytes (expect_tx / complete_tx: a phase completes when its arrivals are in
// and its bytes landed), and wgmma batches that read their stage until a wgmma.wait_group retires them. All three
// copy modes: cp.async only, mixed (one operand by TMA: thread 0 expects its bytes, the copier arrives once its
// cp.async group landed) and TMA only (thread 0 arrives with the expected bytes as it issues the boxes). Fails on a deadlock, on a copy into a stage a wgmma may still read, on a wgmma
// that reads a stage whose copies have not landed or hold another iteration's tile, on a parity wait that passes a
// phase too late to tell (ABA), and on the staging buffer used by both warpgroups at once. A 2-stage ring must
// deadlock with a cp.async copier (WsCfg asserts 3 or more; the model shows why), and a TMA-only copier that
// arrives without announcing its bytes must fail. Not checked: the data path (gemm_wgmma_host_check.cu)
// and what the hardware does beyond the PTX manual's description.
//   nvcc -std=c++17 -o /tmp/gws kernels/check/gemm_wgmma_ws_host_check.cu && /tmp/gws
#define GEMM_WGMMA_INDEX_ONLY
#include "../gemm_wgmma.cu"
#include <stdio.h>
#include <stdlib.h>
#include <algorithm>
#include <deque>
#include <random>
#include <string>
#include <vector>

using namespace wg;

enum Kind { WAIT, ARRIVE, EXPECT, ARRIVE_EXPECT, COPY, TMA, COMMIT, CP_WAIT, ISSUE, WG_WAIT, NSYNC, NARRIVE, STAGE_C, STORE_C };
struct Step {
  Kind kind;
  int a = 0, b = 0, c = 0;  // WAIT: barrier, parity, phase meant; ARRIVE/EXPECT/ARRIVE_EXPECT: barrier; COPY/ISSUE:
                            // stage, iteration; TMA: stage, iteration, barrier; CP_WAIT/WG_WAIT: groups left;
                            // NSYNC/NARRIVE: id, count; STAGE_C/STORE_C: warpgroup, tile
};

// Copy modes of the copier (the kernel's mode_a / mode_b: none, one or both operands by TMA), and a mutant.
enum Mode { CP_ASYNC, MIXED, TMA_ONLY, TMA_ARRIVE_NO_BYTES };

struct Mbar {
  int count, pending, phase = 0, tx = 0;  // arrivals per phase, still missing; completed phases; bytes (here: copies) owed
  void settle() { if (pending == 0 && tx == 0) { phase++; pending = count; } }
};
struct Named { int arrived = 0; long generation = 0; };

struct Model {
  int S, NC;  // ring stages; threads per multiplying warpgroup (the kernel: 128; fewer here, same protocol)
  std::vector<Mbar> bars;  // full[0..S), empty[S..2S)
  Named named[8];
  struct Content { int it = -1; int inflight = 0; };  // the iteration it holds, its copies not yet landed
  std::vector<Content> stage;
  std::vector<int> readers;  // unretired wgmma batches reading each stage
  int staging_owner = -1, staging_users = 0;  // the warpgroup whose threads are between staging and storing C
  struct Agent {
    std::vector<Step> prog;
    size_t pc = 0;
    std::deque<std::vector<int>> groups;  // cp.async groups not yet landed: the stages each wrote
    std::vector<int> open;                // copies since the last commit
    std::deque<int> batches;              // wgmma batches in flight: their stage
    long waiting_generation = -1;         // in a bar.sync: the instance it waits on
  };
  std::vector<Agent> agents;
  std::vector<std::pair<int, int>> tma;  // TMA copies in flight: stage, barrier
  std::string fault;

  void copy_into(int st, int it) {
    if (stage[st].it != it) stage[st] = {it, 0};
    stage[st].inflight++;
  }

  bool fail(const std::string& f) { if (fault.empty()) fault = f; return false; }

  // One step of agent i if it can make progress; false if it is blocked (or faulted).
  bool step(int i) {
    Agent& ag = agents[i];
    const Step& s = ag.prog[ag.pc];
    switch (s.kind) {
      case WAIT: {
        if (s.a < 0) return fail("wait on a barrier of no stage");
        Mbar& m = bars[s.a];
        if ((m.phase & 1) == s.b) return false;  // the phase of parity b has not completed
        if (m.phase > s.c + 1) return fail("ABA: a parity wait passed phase " + std::to_string(m.phase) + " meaning " + std::to_string(s.c));
        if (m.phase < s.c + 1 && s.c >= 0) return fail("a parity wait passed before its phase completed");
        break;
      }
      case ARRIVE: {
        if (s.a < 0) return fail("arrival on a barrier of no stage");
        Mbar& m = bars[s.a];
        m.pending--;
        m.settle();
        break;
      }
      case EXPECT: bars[s.a].tx++; break;
      case ARRIVE_EXPECT: bars[s.a].tx++; bars[s.a].pending--; bars[s.a].settle(); break;
      case COPY: case TMA:
        if (readers[s.a]) return fail("copy into stage " + std::to_string(s.a) + " while a wgmma reads it");
        copy_into(s.a, s.b);
        if (s.kind == COPY) ag.open.push_back(s.a);
        else tma.push_back({s.a, s.c});
        break;
      case COMMIT: ag.groups.push_back(ag.open); ag.open.clear(); break;
      case CP_WAIT: if ((int)ag.groups.size() > s.a) return false; break;
      case ISSUE:
        if (stage[s.a].inflight || stage[s.a].it != s.b)
          return fail("wgmma of iteration " + std::to_string(s.b) + " reads stage " + std::to_string(s.a) + " holding iteration " +
                      std::to_string(stage[s.a].it) + (stage[s.a].inflight ? " (copies in flight)" : ""));
        readers[s.a]++;
        ag.batches.push_back(s.a);
        break;
      case WG_WAIT:
        while ((int)ag.batches.size() > s.a) { readers[ag.batches.front()]--; ag.batches.pop_front(); }
        break;
      case NSYNC: case NARRIVE: {
        Named& nb = named[s.a];
        if (ag.waiting_generation >= 0) {  // already arrived in a bar.sync: released once that instance completed
          if (nb.generation == ag.waiting_generation) return false;
          ag.waiting_generation = -1;
          break;
        }
        long gen = nb.generation;
        if (++nb.arrived == s.b) { nb.arrived = 0; nb.generation++; }
        if (s.kind == NSYNC && nb.generation == gen) { ag.waiting_generation = gen; return true; }  // stays on this step
        break;
      }
      case STAGE_C:  // a thread writes its accumulators: no thread of the other warpgroup may still be using the buffer
        if (staging_users > 0 && staging_owner != s.a) return fail("both warpgroups in the staging buffer (tile " + std::to_string(s.b) + ")");
        staging_owner = s.a;
        staging_users++;
        break;
      case STORE_C: staging_users--; break;  // its reads of the staged rows are done
    }
    ag.pc++;
    return true;
  }
};

// The kernel's loops (gemm_ws) as step sequences for a block that owns `tiles` output tiles of `ktiles` k steps.
static Model build(int S, int NC, int tiles, int ktiles, Mode mode) {
  Model md;
  md.S = S;
  md.NC = NC;
  for (int s = 0; s < S; s++) md.bars.push_back({1, 1});       // full: one copier agent (the kernel's 128 in step, or thread 0 alone)
  for (int s = 0; s < S; s++) md.bars.push_back({2 * NC, 2 * NC});  // empty: every multiplying thread
  md.stage.resize(S);
  md.readers.assign(S, 0);
  // full[stage] / empty[stage] as a barrier index; -1 for a stage outside the ring (a fault the steps report)
  auto full = [S](int stage) { return stage >= 0 && stage < S ? stage : -1; };
  auto empty = [S](int stage) { return stage >= 0 && stage < S ? S + stage : -1; };
  Model::Agent copier;
  int it = 0;
  for (int t = 0; t < tiles; t++)
    for (int kt = 0; kt < ktiles; kt++, it++) {
      const int s = ring_stage(it, S);
      copier.prog.push_back({WAIT, empty(s), ring_parity(it, S) ^ 1, it / S - 1});
      if (mode == TMA_ONLY || mode == TMA_ARRIVE_NO_BYTES) {  // thread 0: arrive (with the bytes), issue, next stage
        copier.prog.push_back({mode == TMA_ONLY ? ARRIVE_EXPECT : ARRIVE, full(s)});
        copier.prog.push_back({TMA, s, it, mode == TMA_ONLY ? full(s) : -1});
        continue;
      }
      if (mode == MIXED) {  // thread 0 announces the TMA operand's bytes before issuing it; the other comes by cp.async
        copier.prog.push_back({EXPECT, full(s)});
        copier.prog.push_back({TMA, s, it, full(s)});
      }
      copier.prog.push_back({COPY, s, it});
      copier.prog.push_back({COMMIT});
      if (it > 0) {
        copier.prog.push_back({CP_WAIT, 1});
        copier.prog.push_back({ARRIVE, full(ring_stage(it - 1, S))});
      }
    }
  if (mode == CP_ASYNC || mode == MIXED) {
    copier.prog.push_back({CP_WAIT, 0});
    if (it > 0) copier.prog.push_back({ARRIVE, full(ring_stage(it - 1, S))});
  }
  md.agents.push_back(copier);
  for (int g = 0; g < 2; g++)
    for (int th = 0; th < NC; th++) {
      Model::Agent a;
      int it = 0;
      for (int t = 0; t < tiles; t++) {
        for (int kt = 0; kt < ktiles; kt++, it++) {
          const int s = ring_stage(it, S);
          a.prog.push_back({WAIT, full(s), ring_parity(it, S), it / S});
          a.prog.push_back({ISSUE, s, it});
          a.prog.push_back({WG_WAIT, 1});
          if (kt > 0) a.prog.push_back({ARRIVE, empty(ring_stage(it - 1, S))});
        }
        a.prog.push_back({WG_WAIT, 0});
        if (ktiles > 0) a.prog.push_back({ARRIVE, empty(ring_stage(it - 1, S))});
        if (g == 1) a.prog.push_back({NSYNC, 1, 2 * NC});
        else if (t != 0) a.prog.push_back({NSYNC, 2, 2 * NC});
        a.prog.push_back({STAGE_C, g, t});
        a.prog.push_back({NSYNC, 3 + g, NC});
        a.prog.push_back({STORE_C, g, t});
        a.prog.push_back({NSYNC, 3 + g, NC});
        if (g == 0) a.prog.push_back({NARRIVE, 1, 2 * NC});
        else if (t + 1 < tiles) a.prog.push_back({NARRIVE, 2, 2 * NC});
      }
      md.agents.push_back(a);
    }
  return md;
}

// Runs the model under one random schedule: "" when every agent finished, else the fault or "deadlock".
static std::string run(int S, int NC, int tiles, int ktiles, unsigned seed, Mode mode = CP_ASYNC) {
  Model md = build(S, NC, tiles, ktiles, mode);
  std::mt19937 rng(seed);
  for (;;) {
    std::vector<int> live;
    for (int i = 0; i < (int)md.agents.size(); i++) if (md.agents[i].pc < md.agents[i].prog.size()) live.push_back(i);
    if (live.empty()) return "";
    std::shuffle(live.begin(), live.end(), rng);
    bool moved = false;
    // a random agent steps, or a random pending cp.async group (oldest first) or TMA copy (any) lands
    std::vector<int> landing;
    for (int i = 0; i < (int)md.agents.size(); i++) if (!md.agents[i].groups.empty()) landing.push_back(i);
    if (!md.tma.empty()) landing.push_back(-1);
    if (!landing.empty() && rng() % 3 == 0) {
      const int who = landing[rng() % landing.size()];
      if (who < 0) {
        const size_t j = rng() % md.tma.size();
        auto [st, bar] = md.tma[j];
        md.tma.erase(md.tma.begin() + j);
        md.stage[st].inflight--;
        if (bar >= 0) { md.bars[bar].tx--; md.bars[bar].settle(); }
      } else {
        Model::Agent& ag = md.agents[who];
        for (int s : ag.groups.front()) md.stage[s].inflight--;
        ag.groups.pop_front();
      }
      moved = true;
    }
    for (int i : live) {
      if (md.step(i)) { moved = true; break; }
      if (!md.fault.empty()) return md.fault;
    }
    if (!moved && landing.empty()) return "deadlock";
    if (!md.fault.empty()) return md.fault;
  }
}

int main() {
  int fails = 0;
  // the launch shape CudaGemm uses (GemmTuner.Tile.wsSmem; GemmTunerTest pins the same numbers)
  if (WsCfg<128>::SMEM != 199760 || WsCfg<256>::SMEM != 216112 || WsCfg<128>::THREADS != 384) {
    printf("FAIL: WsCfg SMEM %d / %d changed: update GemmTuner.Tile.wsSmem and GemmTunerTest\n", WsCfg<128>::SMEM, WsCfg<256>::SMEM);
    fails++;
  }
  const char* names[] = {"cp.async", "mixed", "TMA only"};
  for (Mode mode : {CP_ASYNC, MIXED, TMA_ONLY})
    for (int S : {WsCfg<128>::STAGES, WsCfg<256>::STAGES})
      for (auto [tiles, ktiles] : std::vector<std::pair<int, int>>{{1, 1}, {1, 2}, {3, 1}, {2, 7}, {4, 3}, {5, 13}, {3, 0}}) {
        int bad = 0;
        std::string first;
        for (unsigned seed = 0; seed < 300; seed++) {
          std::string r = run(S, 3, tiles, ktiles, seed, mode);
          if (!r.empty() && bad++ == 0) first = r;
        }
        printf("%s %-8s %d stages, %d tiles x %d k steps: %d of 300 schedules failed%s%s\n", bad ? "FAIL" : "ok  ", names[mode], S,
               tiles, ktiles, bad, bad ? ": " : "", first.c_str());
        fails += bad != 0;
      }
  // With the copier's bytes announced, a TMA-only ring works with 2 stages too; without them a wgmma reads copies in flight.
  int two = 0, mutant = 0;
  for (unsigned seed = 0; seed < 50; seed++) {
    two += run(2, 3, 2, 5, seed, TMA_ONLY) != "";
    mutant += run(3, 3, 2, 5, seed, TMA_ARRIVE_NO_BYTES) != "";
  }
  printf("%s TMA only, 2 stages: %d of 50 schedules failed (expected: none)\n", two == 0 ? "ok  " : "FAIL", two);
  printf("%s TMA only arriving without its bytes fails in %d of 50 schedules (expected: some)\n", mutant > 0 ? "ok  " : "FAIL", mutant);
  fails += two != 0;
  fails += mutant == 0;
  // The model must be able to fail: a 2-stage ring deadlocks (the copier signals stage it only after the wait for it + 1).
  int deadlocks = 0;
  for (unsigned seed = 0; seed < 50; seed++) deadlocks += run(2, 3, 2, 5, seed) == "deadlock";
  printf("%s 2 stages deadlock in %d of 50 schedules (expected: all)\n", deadlocks == 50 ? "ok  " : "FAIL", deadlocks);
  fails += deadlocks != 50;
  if (fails) { printf("%d case(s) FAILED\n", fails); return 1; }
  printf("all cases passed\n");
  return 0;
}
