#pragma once
// A small adapter over Qt Charts (deprecated from Qt 6.10 in favour of Qt Graphs): a line chart
// of a few named series over the last N seconds. The pages only use this class.
#include <QWidget>
#include <deque>
#include <vector>

class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;

class TimeChart : public QWidget {
    Q_OBJECT
public:
    // Series from `rightFrom` on use a second axis on the right (counts next to rates).
    TimeChart(const QString& title, const QStringList& series, int seconds = 300, QWidget* parent = nullptr, int rightFrom = -1);
    void append(const std::vector<double>& values); // one point per series, `step` seconds later
    void clear();
    int points() const;
    // The window shown: `seconds` back, a point every `step` seconds (clears the chart).
    void setSpan(int seconds, int step);
    int span() const { return seconds_; }
    double peak(int series) const; // the largest value shown in a series
    // Axis titles with their units ("requests/s", "ms"); whole: counts, ticked at whole numbers.
    void setAxes(const QString& leftTitle, bool leftWhole, const QString& rightTitle = {}, bool rightWhole = true);
    QValueAxis* leftAxis() const { return y_; }
    QValueAxis* rightAxis() const { return y2_; }

    // A top and tick step of 1, 2 or 5 times a power of ten above peak, about `intervals` of them
    // (fewer when the chart is short); whole numbers only when asked (counts: 0 1 2 3 4, never
    // 0 0.9 1.7 2.6 3.4).
    struct Scale {
        double top;
        double step;
        int ticks;
    };
    static Scale niceScale(double peak, bool whole, int intervals = 6);

private:
    QChart* chart_;
    QChartView* view_;
    std::vector<QLineSeries*> series_;
    QValueAxis* x_;
    QValueAxis* y_;
    QValueAxis* y2_ = nullptr;
    int seconds_;
    int step_ = 1;
    int rightFrom_;
    bool leftWhole_ = false, rightWhole_ = true;
    void scaleAxis(QValueAxis* axis, double peak, bool whole);
    int t_ = 0;
    std::vector<std::deque<double>> data_;
};
