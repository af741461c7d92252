# plot.gp — latency and fan-out versus number of clients, from the .dat files report.js
# writes.  gnuplot -e "datadir='bench/results'" bench/plot.gp
if (!exists("datadir")) datadir = "bench/results"
set terminal pngcairo size 1200,480 font ",10" noenhanced
set output datadir."/latency-fanout.png"
set multiplot layout 1,2 title "pg_toggles benchmark: floor vs toggles-pushd vs Node relay (loopback, 2 cores)"
set grid
set key top left
set logscale x
set xlabel "connected clients"

set title "Delivery latency at 50 flips/s (COMMIT -> each client)"
set ylabel "ms"
set logscale y
set xrange [0.5:2000]
plot datadir."/latency.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#777777" title "floor p50", \
     ""  using 1:3 with linespoints lw 1 pt 6 dt 2 lc rgb "#777777" title "floor p99", \
     ""  using 1:4 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "pushd p50", \
     ""  using 1:5 with linespoints lw 1 pt 6 dt 2 lc rgb "#1f77b4" title "pushd p99", \
     ""  using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "node p50", \
     ""  using 1:7 with linespoints lw 1 pt 6 dt 2 lc rgb "#d62728" title "node p99"

set title "Fan-out: COMMIT -> last client has the change"
set ylabel "ms"
unset logscale y
set xrange [*:*]
set autoscale x
plot datadir."/fanout.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#777777" title "floor p50", \
     ""  using 1:3 with linespoints lw 1 pt 6 dt 2 lc rgb "#777777" title "floor p99", \
     ""  using 1:4 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "pushd p50", \
     ""  using 1:5 with linespoints lw 1 pt 6 dt 2 lc rgb "#1f77b4" title "pushd p99", \
     ""  using 1:6 with linespoints lw 2 pt 7 lc rgb "#d62728" title "node p50", \
     ""  using 1:7 with linespoints lw 1 pt 6 dt 2 lc rgb "#d62728" title "node p99"
unset multiplot
