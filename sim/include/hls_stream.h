// bnn-hls strict hls::stream for C simulation with g++ (never used by the real HLS tool).
// Reading an empty stream stops the run naming the stream; a stream destroyed with data left
// in it is recorded, and bnn_csim::leftovers() reports it at the end of the testbench.
#ifndef BNN_CSIM_HLS_STREAM_H
#define BNN_CSIM_HLS_STREAM_H

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace bnn_csim {

inline std::vector<std::string>& leftover_list() {
  static std::vector<std::string> list;
  return list;
}

inline int leftovers() {
  for (const std::string& s : leftover_list()) std::fprintf(stderr, "bnn-hls csim: %s\n", s.c_str());
  return static_cast<int>(leftover_list().size());
}

inline std::string next_name() {
  static int counter = 0;
  return "stream_" + std::to_string(counter++);
}

}  // namespace bnn_csim

namespace hls {

template <typename T>
class stream {
 public:
  stream() : name_(bnn_csim::next_name()) {}
  explicit stream(const char* name) : name_(name) {}
  explicit stream(const std::string& name) : name_(name) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  ~stream() {
    if (!queue_.empty()) {
      bnn_csim::leftover_list().push_back("stream '" + name_ + "' still holds " +
                                          std::to_string(queue_.size()) + " words");
    }
  }

  T read() {
    if (queue_.empty()) {
      std::fprintf(stderr, "bnn-hls csim: read from empty stream '%s'\n", name_.c_str());
      std::exit(3);
    }
    T value = queue_.front();
    queue_.pop_front();
    return value;
  }
  void read(T& value) { value = read(); }
  bool read_nb(T& value) {
    if (queue_.empty()) return false;
    value = read();
    return true;
  }
  void write(const T& value) { queue_.push_back(value); }
  bool write_nb(const T& value) {
    write(value);
    return true;
  }
  void operator>>(T& value) { read(value); }
  void operator<<(const T& value) { write(value); }
  bool empty() const { return queue_.empty(); }
  bool full() const { return false; }
  std::size_t size() const { return queue_.size(); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::deque<T> queue_;
};

}  // namespace hls

#endif
