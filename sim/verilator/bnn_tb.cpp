// Native Verilator testbench for a generated bnn_top: streams packed input words from a file
// through s_axis, collects the 32-bit scores from m_axis, and counts cycles. No Python runs
// per clock cycle (the cocotb bench did, and that was its whole cost).
//
// Usage: bnn_tb KEY=VALUE...
//   input=FILE         the packed AXI-Stream words, bytes_per_word bytes each, little-endian
//                      (images x words_per_image of them; fewer starve the design on purpose)
//   bytes_per_word=B   words_per_image=W   images=N   classes=C
//   runs=R             1: one run without stalls; 2: then the same batch again with seeded
//                      random gaps on the input and stalls on the output
//   seed=S             the stall generator's seed
//   watchdog=K         a run stops as stalled when no word enters or leaves for K cycles
//   out=PREFIX         writes PREFIX.run<i>.scores (int32 per score) and PREFIX.json
//   load=FILE          optional: threshold load words (bytes_per_word bytes each,
//                      docs/thresholds.md) sent with load_thresholds = 1 before the runs
//
// stdout: "progress RUN IMAGES_DONE" lines while it runs.
// PREFIX.json: one object per run: images, backpressure, first_in (cycle the first input word
// was taken), ends (cycle of each image's last score), total_cycles, and on a stall: stalled
// with the cycle, the scores received, and dbg_valid / dbg_ready (every internal stream's
// handshake, stream 0 in the lowest bit) as hex, for the caller to name the streams.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "Vbnn_top.h"
#include "verilated.h"

namespace {

// Ports of up to 64 bits are integers in Verilator's model; wider ones are VlWide arrays of
// 32-bit words. One overload each, so the harness fits any input width and stream count.
template <typename T>
void set_port(T& port, const uint8_t* bytes, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n && i < 8; ++i) v |= uint64_t(bytes[i]) << (8 * i);
    port = static_cast<T>(v);
}

template <std::size_t W>
void set_port(VlWide<W>& port, const uint8_t* bytes, int n) {
    for (std::size_t w = 0; w < W; ++w) {
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const int i = int(4 * w) + k;
            if (i < n) v |= uint32_t(bytes[i]) << (8 * k);
        }
        port[w] = v;
    }
}

template <typename T>
std::string hex_of(const T& port) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(port));
    return buf;
}

template <std::size_t W>
std::string hex_of(const VlWide<W>& port) {
    std::string s;
    for (std::size_t w = W; w-- > 0;) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(port[w]));
        s += buf;
    }
    return s;
}

// splitmix64: the stall pattern, reproducible from the seed
struct Rng {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    bool chance(unsigned percent) { return next() % 100 < percent; }
};

struct Sim {
    Vbnn_top top;
    uint64_t cycle = 0;

    // one clock: inputs are set by the caller, the combinational outputs settle at clk low,
    // then the rising edge
    void half_low() {
        top.clk = 0;
        top.eval();
    }
    void rise() {
        top.clk = 1;
        top.eval();
        ++cycle;
    }
};

std::map<std::string, std::string> parse_args(int argc, char** argv) {
    std::map<std::string, std::string> args;
    for (int i = 1; i < argc; ++i) {
        const char* eq = std::strchr(argv[i], '=');
        if (eq == nullptr) continue;
        args[std::string(argv[i], eq - argv[i])] = eq + 1;
    }
    return args;
}

uint64_t number(const std::map<std::string, std::string>& args, const char* key) {
    auto it = args.find(key);
    if (it == args.end()) {
        std::fprintf(stderr, "bnn_tb: missing argument %s=\n", key);
        std::exit(2);
    }
    return std::strtoull(it->second.c_str(), nullptr, 10);
}

bool read_file(const std::string& path, std::vector<uint8_t>& data) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        std::fprintf(stderr, "bnn_tb: cannot open %s\n", path.c_str());
        return false;
    }
    uint8_t buf[1 << 16];
    std::size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + got);
    std::fclose(f);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Verilated::commandArgs(1, argv);  // keep Verilator's own +args out of ours
    const auto args = parse_args(argc, argv);
    const int bytes_per_word = int(number(args, "bytes_per_word"));
    const uint64_t words_per_image = number(args, "words_per_image");
    const uint64_t images = number(args, "images");
    const uint64_t classes = number(args, "classes");
    const int runs = int(number(args, "runs"));
    const uint64_t seed = number(args, "seed");
    const uint64_t watchdog = number(args, "watchdog");
    const std::string out = args.at("out");

    // the words to send: normally images x words_per_image, fewer when a test starves the design
    std::vector<uint8_t> input;
    if (!read_file(args.at("input"), input)) return 2;
    std::vector<uint8_t> load;
    if (args.count("load") != 0 && !read_file(args.at("load"), load)) return 2;
    const uint64_t n_words = input.size() / bytes_per_word;
    if (n_words > images * words_per_image) {
        std::fprintf(stderr, "bnn_tb: more input words than images x words_per_image\n");
        return 2;
    }

    Sim sim;
    Vbnn_top& top = sim.top;
    top.s_axis_tvalid = 0;
    top.s_axis_tlast = 0;
    top.m_axis_tready = 0;
    top.num_images = 0;
    top.load_thresholds = 0;
    top.rst_n = 0;
    for (int i = 0; i < 5; ++i) sim.half_low(), sim.rise();
    top.rst_n = 1;
    for (int i = 0; i < 2; ++i) sim.half_low(), sim.rise();

    // the threshold load: every word is taken at once while load_thresholds is 1
    if (!load.empty()) {
        top.load_thresholds = 1;
        for (std::size_t w = 0; w + bytes_per_word <= load.size(); w += bytes_per_word) {
            set_port(top.s_axis_tdata, &load[w], bytes_per_word);
            top.s_axis_tvalid = 1;
            top.s_axis_tlast = w + 2 * bytes_per_word > load.size();
            sim.half_low();
            if (!top.s_axis_tready) {
                std::fprintf(stderr, "bnn_tb: the design refused a threshold load word\n");
                return 2;
            }
            sim.rise();
        }
        top.s_axis_tvalid = 0;
        top.s_axis_tlast = 0;
        top.load_thresholds = 0;
        for (int i = 0; i < 2; ++i) sim.half_low(), sim.rise();  // the last value is written
    }

    // stdout: a line "progress RUN IMAGES" about every 1 % of a run, for the caller's bar
    const uint64_t report_every = images / 100 > 0 ? images / 100 : 1;
    std::string json = "[";
    for (int run = 0; run < runs; ++run) {
        const bool stalls = run > 0;
        Rng rng{seed + uint64_t(run)};
        top.num_images = uint32_t(images);
        const uint64_t total = images * classes;
        std::vector<int32_t> scores;
        scores.reserve(total);
        std::vector<uint64_t> ends;
        ends.reserve(images);
        const uint64_t start = sim.cycle;
        uint64_t first_in = 0, last_progress = sim.cycle, next_word = 0;
        bool stalled = false;
        while (scores.size() < total) {
            // this cycle's offers: the next input word (unless a random gap), and readiness
            // for a score (unless a random stall)
            const bool offer = next_word < n_words && !(stalls && rng.chance(30));
            top.s_axis_tvalid = offer;
            if (offer) {
                set_port(top.s_axis_tdata, &input[next_word * bytes_per_word], bytes_per_word);
                top.s_axis_tlast = next_word + 1 == n_words;
            }
            top.m_axis_tready = !(stalls && rng.chance(40));
            sim.half_low();
            const bool took = offer && top.s_axis_tready;
            const bool gave = top.m_axis_tvalid && top.m_axis_tready;
            const int32_t score = static_cast<int32_t>(top.m_axis_tdata);
            sim.rise();
            if (took) {
                if (next_word == 0) first_in = sim.cycle;
                ++next_word;
                last_progress = sim.cycle;
            }
            if (gave) {
                scores.push_back(score);
                if (scores.size() % classes == 0) {
                    ends.push_back(sim.cycle);
                    if (ends.size() % report_every == 0 || ends.size() == images) {
                        std::printf("progress %d %zu\n", run, ends.size());
                        std::fflush(stdout);
                    }
                }
                last_progress = sim.cycle;
            }
            if (sim.cycle - last_progress > watchdog) {
                stalled = true;
                break;
            }
        }
        top.s_axis_tvalid = 0;
        const std::string file = out + ".run" + std::to_string(run) + ".scores";
        FILE* f = std::fopen(file.c_str(), "wb");
        if (f == nullptr) {
            std::fprintf(stderr, "bnn_tb: cannot write %s\n", file.c_str());
            return 2;
        }
        std::fwrite(scores.data(), sizeof(int32_t), scores.size(), f);
        std::fclose(f);
        json += std::string(run ? "," : "") + "\n {\"images\": " + std::to_string(images) +
                ", \"backpressure\": " + (stalls ? "true" : "false") +
                ", \"first_in\": " + std::to_string(next_word ? first_in - start : 0) +
                ", \"total_cycles\": " + std::to_string(sim.cycle - start) +
                ", \"ends\": [";
        for (std::size_t i = 0; i < ends.size(); ++i)
            json += (i ? "," : "") + std::to_string(ends[i] - start);
        json += "]";
        if (stalled) {
            json += ", \"stalled\": {\"cycle\": " + std::to_string(sim.cycle - start) +
                    ", \"scores\": " + std::to_string(scores.size()) + ", \"dbg_valid\": \"" +
                    hex_of(top.dbg_valid) + "\", \"dbg_ready\": \"" + hex_of(top.dbg_ready) +
                    "\"}";
        }
        json += "}";
        if (stalled) break;
    }
    json += "\n]\n";
    const std::string result = out + ".json";
    FILE* f = std::fopen(result.c_str(), "w");
    if (f == nullptr) {
        std::fprintf(stderr, "bnn_tb: cannot write %s\n", result.c_str());
        return 2;
    }
    std::fputs(json.c_str(), f);
    std::fclose(f);
    top.final();
    return 0;
}
