package AigwProm;

# A strict parser of the Prometheus text exposition format (0.0.4), for
# the tests of aigw_metrics: every family has HELP then TYPE before its
# samples, samples belong to the family just declared, names and label
# names are valid, label values are quoted with only \\, \" and \n
# escapes, no label set repeats, values are numbers; a histogram has, per
# label set, _bucket lines with le= in increasing order ending in "+Inf",
# cumulative counts, a _sum and a _count equal to the +Inf bucket.
#
# check($text) returns (\%samples, undef) or (undef, $error); %samples maps
# 'name{l1="v1",l2="v2"}' (labels sorted by name) to the value.

use strict;
use warnings;

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LABEL = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $NUM = qr/[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?Inf|NaN/;

sub _labels {
    my ($text) = @_;
    my %l;
    my $s = $text;
    while (length $s) {
        $s =~ s/\A($LABEL)="((?:[^"\\\n]|\\[\\"n])*)"// or return (undef, "bad label syntax in {$text}");
        my ($k, $v) = ($1, $2);
        return (undef, "label $k repeated in {$text}") if exists $l{$k};
        $v =~ s/\\(["\\n])/$1 eq 'n' ? "\n" : $1/ge;
        $l{$k} = $v;
        last unless length $s;
        $s =~ s/\A,// or return (undef, "bad label separator in {$text}");
    }
    return (\%l, undef);
}

sub _key {
    my ($name, $l) = @_;
    my @p = map { my $v = $l->{$_}; $v =~ s/([\\"])/\\$1/g; $v =~ s/\n/\\n/g; qq{$_="$v"} } sort keys %$l;
    return @p ? "$name\{" . join(',', @p) . '}' : $name;
}

sub check {
    my ($text) = @_;
    my (%samples, %help, %type, $cur, %hist);

    return (undef, 'empty exposition') unless length $text;
    return (undef, 'no final newline') unless $text =~ /\n\z/;

    for my $line (split /\n/, $text) {
        next if $line eq '';
        if ($line =~ /\A# HELP ($NAME) (.*)\z/) {
            return (undef, "HELP of $1 twice") if $help{$1}++;
            $cur = $1;
            next;
        }
        if ($line =~ /\A# TYPE ($NAME) (counter|gauge|histogram|summary|untyped)\z/) {
            return (undef, "TYPE of $1 without its HELP first") unless $help{$1} && defined $cur && $cur eq $1;
            return (undef, "TYPE of $1 twice") if $type{$1};
            $type{$1} = $2;
            next;
        }
        return (undef, "bad comment line: $line") if $line =~ /\A#/;

        $line =~ /\A($NAME)(?:\{(.*)\})? ($NUM)\z/ or return (undef, "bad sample line: $line");
        my ($name, $ltext, $value) = ($1, $2 // '', $3);
        my ($l, $err) = _labels($ltext);
        return (undef, $err) if $err;

        return (undef, "sample $name before any TYPE") unless defined $cur && $type{$cur};
        my $t = $type{$cur};
        if ($t eq 'histogram') {
            $name =~ /\A\Q$cur\E_(bucket|sum|count)\z/ or return (undef, "sample $name inside histogram $cur");
            my $part = $1;
            my %base = %$l;
            my $le = delete $base{le};
            my $hk = _key($cur, \%base);
            if ($part eq 'bucket') {
                return (undef, "bucket without le: $line") unless defined $le;
                my $h = $hist{$hk} //= { buckets => [] };
                return (undef, "bucket after _sum/_count: $line") if exists $h->{sum} || exists $h->{count};
                push @{ $h->{buckets} }, [$le, $value];
            } else {
                return (undef, "le on _$part: $line") if defined $le;
                my $h = $hist{$hk} or return (undef, "_$part before buckets: $line");
                return (undef, "_$part twice: $line") if exists $h->{$part};
                $h->{$part} = $value;
            }
        } else {
            return (undef, "sample $name does not belong to family $cur") unless $name eq $cur;
        }
        my $k = _key($name, $l);
        return (undef, "series repeated: $k") if exists $samples{$k};
        $samples{$k} = $value;
    }

    for my $hk (sort keys %hist) {
        my $h = $hist{$hk};
        my @b = @{ $h->{buckets} };
        return (undef, "$hk: last bucket is not le=\"+Inf\"") unless $b[-1][0] eq '+Inf';
        my ($prev_le, $prev_v) = (-1, 0);
        for my $b (@b) {
            my $le = $b->[0] eq '+Inf' ? 9**9**9 : $b->[0];
            return (undef, "$hk: le not increasing at $b->[0]") unless $le > $prev_le;
            return (undef, "$hk: buckets not cumulative at $b->[0]") unless $b->[1] >= $prev_v;
            ($prev_le, $prev_v) = ($le, $b->[1]);
        }
        return (undef, "$hk: no _sum") unless exists $h->{sum};
        return (undef, "$hk: no _count") unless exists $h->{count};
        return (undef, "$hk: _count $h->{count} is not the +Inf bucket $b[-1][1]") unless $h->{count} == $b[-1][1];
    }

    for my $f (keys %help) {
        return (undef, "HELP of $f without TYPE") unless $type{$f};
    }

    return (\%samples, undef);
}

1;
